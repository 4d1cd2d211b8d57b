import os
import sys
from pathlib import Path

import pytest

from planner.sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
import pg  # noqa: E402


@pytest.fixture
def sandbox():
    """A started sandbox on a free port of 127.0.0.1, seeded so runs repeat."""
    with Sandbox(seed=1) as sb:
        yield sb


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the whole session (tests/pg.py), stopped at the end.

    Skipped only where PostgreSQL is not installed at all; in CI (.ci/run installs it) that is a failure."""
    bindir = pg.find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(pg.NOT_INSTALLED)
        pytest.skip(pg.NOT_INSTALLED)
    server = pg.PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database()
