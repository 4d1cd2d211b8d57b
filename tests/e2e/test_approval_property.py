"""No sequence of commands a staff user can type publishes anything an approver did not approve as it is.

A state machine (hypothesis) plays a staff user against a real workspace on the sandbox: cancel, retry,
requeue, approve and reject (refused: staff), edits through `campaign apply`, a media file replaced on
disk, and `publish --due` (the real dispatcher, sending to the sandbox over HTTP). An approver
approves now and then. The model keeps its own count of content versions, independent of the
project's hashes: each edit or media change is a new version, and an approval covers the version it
saw. After every step, each post sent since the last step must have been approved at its current
version.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
from helpers import cli  # noqa: E402

from planner.clock import OffsetClock  # noqa: E402
from planner.config import load_config  # noqa: E402
from planner.publishing.dispatcher import Dispatcher  # noqa: E402
from planner.sandbox import Sandbox  # noqa: E402
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Jakarta")
USERS = '[approval]\nrequired = true\n[users.sari]\nrole = "approver"\n[users.budi]\nrole = "staff"\n'
CHANNELS = ["kpu_mastodon", "kpu_telegram"]
ITEMS = ("a", "b", "c")  # item "c" carries the image


def campaign_text(versions: dict[str, int], at: datetime) -> str:
    lines = ["[campaign]", 'id = "uji"', 'name = "Uji persetujuan"', 'timezone = "Asia/Jakarta"',
             f"start = {(at.date() - timedelta(days=1)).isoformat()}",
             f"end = {(at.date() + timedelta(days=5)).isoformat()}",
             f"channels = {CHANNELS!r}".replace("'", '"'), "", "[goal]", 'objective = "Menguji."', ""]
    for item in ITEMS:
        lines += ["[[content]]", f'id = "{item}"', f'text = "Info {item} versi {versions[item]}"',
                  f"at = {at.isoformat()}"]
        if item == "c":
            lines.append('media = ["media/poster.jpg"]')
        lines.append("")
    return "\n".join(lines)


class StaffWalk(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.root = Path(WORKSPACES.mkdtemp())
        (self.root / "media").mkdir()
        shutil.copy(REPO / "campaigns" / "media" / "cek-fakta.jpg", self.root / "media" / "poster.jpg")
        self.config = write_sandbox_config(self.root, SANDBOX.base_url, extra=USERS)
        assert self.run("init", str(self.root)).exit_code == 0
        self.versions = {item: 0 for item in ITEMS}
        self.at = (datetime.now(ZONE) + timedelta(minutes=10)).replace(tzinfo=None, second=0, microsecond=0)
        self.apply(as_user="budi")
        self.db = sqlite3.connect(self.root / "planner.db")
        self.post_item = dict(self.db.execute("SELECT id, content_id FROM posts"))
        self.version = {post: 0 for post in self.post_item}      # content version per post (the model)
        self.approved_at = {post: None for post in self.post_item}  # the version an approval covered
        self.claims = self.claim_counts()
        # The scheduler's clock runs 20 minutes ahead: every post is due (the files must name future times).
        self.dispatcher = Dispatcher(load_config(self.config), workers=2,
                                     clock=OffsetClock(timedelta(minutes=20)))

    def teardown(self):
        self.dispatcher.shutdown(timeout=5)
        self.db.close()

    # --- helpers ---
    def run(self, *args: str, as_user: str | None = None):
        prefix = ["--config", str(self.config), "--lang", "en"] + (["--as", as_user] if as_user else [])
        return cli(*prefix, *args)

    def apply(self, as_user: str):
        path = self.root / "uji.toml"
        path.write_text(campaign_text(self.versions, self.at), "utf-8")
        result = self.run("campaign", "apply", str(path), as_user=as_user)
        assert result.exit_code == 0, result.output

    def claim_counts(self) -> dict[int, int]:
        """Sends per post: a claim that ended in an outcome of a request (published, failed, retry, unknown).
        A claim given back unsent (approval void, released at shutdown) is not a send."""
        return dict(self.db.execute("SELECT post_id, COUNT(*) FROM post_events WHERE from_state = 'publishing' "
                                    "AND to_state NOT IN ('pending_approval', 'queued') GROUP BY post_id"))

    def state(self, post: int) -> str:
        return self.db.execute("SELECT state FROM posts WHERE id = ?", [post]).fetchone()[0]

    posts = st.sampled_from([1, 2, 3, 4, 5, 6])

    # --- the staff user ---
    @rule(post=posts, command=st.sampled_from(["cancel", "retry", "requeue"]))
    def staff_changes_a_post(self, post, command):
        result = self.run("post", command, str(post), as_user="budi")
        assert result.exit_code in (0, 2), result.output

    @rule(post=posts)
    def staff_cannot_approve(self, post):
        before = self.state(post)
        assert self.run("approve", str(post), as_user="budi").exit_code == 1
        assert self.run("approve", str(post), "--override-four-eyes", as_user="budi").exit_code == 1
        assert self.state(post) == before

    @rule(item=st.sampled_from(ITEMS))
    def staff_edits_an_item(self, item):
        self.versions[item] += 1
        before = self.texts()
        self.apply(as_user="budi")
        for post, text in self.texts().items():
            if text != before[post]:  # a post already live keeps its text: the edit does not reach it
                self.version[post] += 1

    def texts(self) -> dict[int, str]:
        return dict(self.db.execute("SELECT id, text FROM posts"))

    @rule()
    def staff_replaces_the_image(self):
        with open(self.root / "media" / "poster.jpg", "ab") as handle:
            handle.write(b"\0")  # still a JPEG, other bytes
        for post, content in self.post_item.items():
            if content == "c":
                self.version[post] += 1

    @rule()
    def publish_due(self):
        self.dispatcher.run_once()

    # --- the approver ---
    @rule(post=posts)
    def approver_approves(self, post):
        if self.state(post) == "pending_approval":
            assert self.run("approve", str(post), as_user="sari").exit_code == 0
            self.approved_at[post] = self.version[post]

    @rule()
    def approver_approves_all_pending(self):
        pending = [p for p in self.post_item if self.state(p) == "pending_approval"]
        if pending:
            assert self.run("approve", "--campaign", "uji", as_user="sari").exit_code == 0
            for post in pending:
                self.approved_at[post] = self.version[post]

    @invariant()
    def every_send_was_approved_as_it_is(self):
        claims = self.claim_counts()
        for post, count in claims.items():
            if count > self.claims.get(post, 0):
                assert self.approved_at[post] == self.version[post], (
                    f"post {post} was sent at version {self.version[post]}, approved at {self.approved_at[post]}")
        self.claims = claims


class _Dirs:
    def __init__(self, base: Path):
        self.base, self.n = base, 0

    def mkdtemp(self) -> str:
        self.n += 1
        path = self.base / f"w{self.n:03d}"
        path.mkdir()
        return str(path)


SANDBOX: Sandbox
WORKSPACES: _Dirs


@pytest.mark.timeout(600)
def test_no_command_sequence_publishes_unapproved_content(tmp_path, monkeypatch):
    global SANDBOX, WORKSPACES
    for key, value in export_sandbox_secrets({}).items():
        monkeypatch.setenv(key, value)
    WORKSPACES = _Dirs(tmp_path)
    with Sandbox(seed=3) as SANDBOX:
        run_state_machine_as_test(StaffWalk, settings=settings(
            max_examples=60, stateful_step_count=10, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
