import pytest

from planner.sandbox import Sandbox


@pytest.fixture
def sandbox():
    """A started sandbox on a free port of 127.0.0.1, seeded so runs repeat."""
    with Sandbox(seed=1) as sb:
        yield sb
