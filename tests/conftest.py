import os
import sys
from pathlib import Path

import pytest

from planner.sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
import pg  # noqa: E402


@pytest.fixture(autouse=True)
def _process_state_of_a_fresh_command():
    """Each test starts as a new `planner` process would: the default language and no global options.

    The suite runs many test files in one process (pytest-xdist): a language or a --config one test's
    in-process command set must not leak into the next file's test."""
    from planner.cli import common
    from planner.i18n import DEFAULT_LANGUAGE, set_language

    def reset():
        set_language(os.environ.get("PLANNER_LANG") or DEFAULT_LANGUAGE)
        common.options.config = common.options.lang = common.options.actor = None

    reset()
    yield
    reset()


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
