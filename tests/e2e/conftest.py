"""Fixtures shared by the end-to-end tests.

The helper modules beside this file (helpers, publishing_helpers, doc_commands) hold plain functions and
classes; what a test needs set up and torn down lives here. Tests run with --import-mode=importlib, so this
folder is put on sys.path once, here, for the modules that import those helpers by name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402
from helpers import init_workspace  # noqa: E402


@pytest.fixture
def kantor(tmp_path) -> Path:
    """An office workspace made by `planner init` (the example accounts, no campaign yet): its folder."""
    folder = tmp_path / "kantor"
    init_workspace(folder)
    return folder


@pytest.fixture
def make_ws(request, tmp_path) -> Callable[..., ph.Workspace]:
    """``make_ws(publishing=None, sb=None)``: a publishing workspace (config, database, media, processes) on
    ``sb`` or, by default, on the test's ``sandbox`` fixture. Every process it started is killed at the end."""
    made: list[ph.Workspace] = []

    def make(publishing: str | None = None, sb=None) -> ph.Workspace:
        base_url = (sb or request.getfixturevalue("sandbox")).base_url
        ws = ph.Workspace(tmp_path / f"ws{len(made)}", base_url, publishing=publishing)
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.cleanup()
