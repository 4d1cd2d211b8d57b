"""The README's main job: `planner demo` publishes the example campaigns to the sandbox, exactly once."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(600)


def test_demo_publishes_every_post_exactly_once_and_writes_the_reports(tmp_path):
    workspace = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "planner", "--lang", "en", "demo", "--dir", str(workspace)],
                            capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "duplicates: 0" in result.stdout, result.stdout[-3000:]
    # Log lines: ISO date order, local time and zone (not rich's "[12/02/26 15:26:35]", read as 12 February).
    stamps = re.findall(r"^(\S.*?)\s+(?:INFO|WARNING|ERROR)\s", result.stdout, re.MULTILINE)
    assert stamps and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} WIB", s) for s in stamps), stamps[:5]
    # The progress bar's last frame ends its line: no log line glued to "48/48".
    assert not re.search(r"\d+/\d+\d{4}-\d{2}-\d{2} ", result.stdout)

    with sqlite3.connect(workspace / "planner.db") as conn:
        states = dict(conn.execute("SELECT state, COUNT(*) FROM posts GROUP BY state"))
        threads = conn.execute("SELECT thread, thread_ids FROM posts WHERE thread != '[]'").fetchall()
        snapshots = conn.execute("SELECT COUNT(*) FROM metric_snapshots").fetchone()[0]
    assert set(states) == {"published"} and states["published"] >= 40, states
    assert threads and all(len(json.loads(ids)) == len(json.loads(thread)) + 1 for thread, ids in threads
                           if ids is not None)
    assert snapshots > 0
    reports = sorted(p.name for p in (workspace / "reports").glob("*.html"))
    assert reports == ["cek-dpt-pemilih-pemula.html", "klarifikasi-hoaks.html"]
