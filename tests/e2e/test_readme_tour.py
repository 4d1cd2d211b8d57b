"""The README's tour is a test: its commands, exactly as README.md shows them, run in order in a fresh
workspace against the sandbox, and every one must succeed (exit 0, no traceback).

README.md is read when the test runs, so the README can never drift from what the tool does. The tour
starts in a folder holding the checkout's ``campaigns/`` (it copies ``../campaigns/*.toml``), as a user
who cloned the repository and works beside it. See doc_commands.py for what stands in for the platforms.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
from doc_commands import REPO, Workspace, is_long_running, planner_commands, run_all  # noqa: E402

pytestmark = pytest.mark.timeout(600)

TOUR_HEADING = "## A short tour"


def tour():
    return planner_commands((REPO / "README.md").read_text("utf-8"), "README.md", heading=TOUR_HEADING)


def test_the_tour_is_found_and_covers_the_main_commands():
    lines = [c.line for c in tour()]
    assert len(lines) >= 15, lines
    joined = "\n".join(lines)
    for needed in ("planner init", "planner campaign apply", "planner queue", "planner run", "planner status",
                   "planner report"):
        assert needed in joined, needed
    assert any(is_long_running(line) for line in lines)  # `planner run` is started and stopped, not skipped


def test_every_tour_command_succeeds(tmp_path, sandbox):
    shutil.copytree(REPO / "campaigns", tmp_path / "campaigns")
    workspace = Workspace(tmp_path, sandbox)
    failures = run_all(workspace, tour())
    assert not failures, "README tour commands failed:\n\n" + "\n\n".join(failures)
    # The tour really ran against the sandbox: the campaigns were applied in the tour's workspace.
    assert any(p.name == "planner.db" for p in tmp_path.rglob("planner.db"))
