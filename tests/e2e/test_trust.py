"""Trust: approvals that cannot be walked around, who acts, an audit that proves its length and end."""

from __future__ import annotations

import getpass
import json
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
from test_team_workflow import CONFIG, apply, campaign, planner  # noqa: E402


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG, "utf-8")
    (tmp_path / "config.toml").chmod(0o600)
    assert planner(tmp_path, "init", str(tmp_path)).exit_code == 0
    return tmp_path


def row(workspace: Path, post_id: int) -> dict:
    with sqlite3.connect(workspace / "planner.db") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM posts WHERE id = ?", [post_id]).fetchone())


# --- the approval bypass of the issue: cancel, requeue, publish -----------------------------------------
def test_cancel_then_requeue_does_not_skip_approval(workspace):
    assert apply(workspace, campaign(["Satu"])).exit_code == 0
    assert planner(workspace, "post", "cancel", "1", user="budi").exit_code == 0
    requeued = planner(workspace, "post", "requeue", "1", user="budi")
    assert requeued.exit_code == 0, requeued.output
    assert "waits for approval" in requeued.output
    after = row(workspace, 1)
    assert after["state"] == "pending_approval" and after["approved_by"] is None


def test_a_rejected_post_cannot_be_requeued_past_the_approver(workspace):
    apply(workspace, campaign(["Satu"]))
    assert planner(workspace, "reject", "1", "--reason", "salah", user="sari").exit_code == 0
    assert planner(workspace, "post", "cancel", "1", user="budi").exit_code == 0
    assert planner(workspace, "post", "requeue", "1", user="budi").exit_code == 0
    assert row(workspace, 1)["state"] == "pending_approval"


def test_an_approved_post_canceled_and_requeued_keeps_its_approval(workspace):
    apply(workspace, campaign(["Satu"]))
    assert planner(workspace, "approve", "1", user="sari").exit_code == 0
    assert planner(workspace, "post", "cancel", "1", user="budi").exit_code == 0
    assert planner(workspace, "post", "requeue", "1", user="budi").exit_code == 0
    after = row(workspace, 1)
    assert after["state"] == "queued" and after["approved_by"] == "sari" and after["approved_hash"]


def test_requeue_refuses_what_the_lifecycle_does_not_allow(workspace):
    apply(workspace, campaign(["Satu"]))
    refused = planner(workspace, "post", "requeue", "1", user="budi")  # pending: not missed/reviewed/canceled
    assert refused.exit_code == 2
    assert "missed" in refused.output and "canceled" in refused.output
    assert row(workspace, 1)["state"] == "pending_approval"


def test_an_approval_is_stamped_with_the_content_and_an_edit_clears_it(workspace):
    apply(workspace, campaign(["Satu"]))
    planner(workspace, "approve", "1", user="sari")
    stamped = row(workspace, 1)["approved_hash"]
    assert stamped and len(stamped) == 64
    apply(workspace, campaign(["Satu diubah"]))
    after = row(workspace, 1)
    assert after["state"] == "pending_approval" and after["approved_hash"] is None
    with sqlite3.connect(workspace / "planner.db") as conn:
        detail = json.loads(conn.execute("SELECT detail FROM audit_log WHERE action = 'post.approve'").fetchone()[0])
    assert detail["stamp"] == stamped


# --- who acts ---------------------------------------------------------------------------------------------
def bound_config(approver_is_me: bool) -> str:
    me = getpass.getuser()
    return CONFIG.replace('[users.sari]\nrole = "approver"',
                          f'[users.sari]\nrole = "approver"\nos_user = "{me if approver_is_me else "sari-os"}"')


def test_with_os_identity_as_cannot_claim_another_user(tmp_path):
    (tmp_path / "config.toml").write_text(bound_config(approver_is_me=False), "utf-8")
    assert planner(tmp_path, "init", str(tmp_path)).exit_code == 0
    assert apply(tmp_path, campaign(["Satu"]), user=None).exit_code == 0
    claimed = planner(tmp_path, "approve", "1", user="sari")
    assert claimed.exit_code == 2 and "--as sari refused" in claimed.output
    assert row(tmp_path, 1)["state"] == "pending_approval"


def test_with_os_identity_the_os_account_acts_as_its_user_and_both_are_audited(tmp_path):
    (tmp_path / "config.toml").write_text(bound_config(approver_is_me=True), "utf-8")
    assert planner(tmp_path, "init", str(tmp_path)).exit_code == 0
    # budi applies (declared name refused: we are sari's OS account) -> the author is sari herself
    refused = apply(tmp_path, campaign(["Satu"]), user="budi")
    assert refused.exit_code == 2
    assert apply(tmp_path, campaign(["Satu"]), user=None).exit_code == 0
    assert row(tmp_path, 1)["author"] == "sari"
    own = planner(tmp_path, "approve", "1")
    assert own.exit_code == 1 and "own content" in own.output  # four eyes holds against the OS account too
    with sqlite3.connect(tmp_path / "planner.db") as conn:
        actor, os_user = conn.execute("SELECT actor, os_user FROM audit_log WHERE action = 'campaign.apply'").fetchone()
    assert (actor, os_user) == ("sari", getpass.getuser())


def test_declared_identity_records_the_os_user_beside_the_claimed_name(workspace):
    apply(workspace, campaign(["Satu"]))
    planner(workspace, "approve", "1", user="sari")
    with sqlite3.connect(workspace / "planner.db") as conn:
        actor, os_user = conn.execute("SELECT actor, os_user FROM audit_log WHERE action = 'post.approve'").fetchone()
    assert actor == "sari" and os_user == getpass.getuser()
    listing = planner(workspace, "audit")
    assert f"OS user: {getpass.getuser()}" in listing.output


def test_help_says_what_as_is(workspace):
    shown = planner(workspace, "--help")
    assert "claim, not proof" in " ".join(shown.output.split())


# --- the audit proves its length and end ------------------------------------------------------------------
def test_audit_head_is_written_after_each_command(workspace):
    apply(workspace, campaign(["Satu", "Dua"]))
    head = json.loads((workspace / "audit.head").read_text())
    with sqlite3.connect(workspace / "planner.db") as conn:
        count, last_hash = conn.execute("SELECT COUNT(*), (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1) "
                                        "FROM audit_log").fetchone()
    assert head == {"count": count, "last_id": count, "hash": last_hash}
    assert (workspace / "audit.head").stat().st_mode & 0o077 == 0


def test_deleting_the_newest_rows_is_caught_by_the_head(workspace):
    apply(workspace, campaign(["Satu", "Dua"]))
    planner(workspace, "approve", "1", "2", user="sari")
    assert planner(workspace, "audit", "--verify").exit_code == 0
    with sqlite3.connect(workspace / "planner.db") as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)")
        conn.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                     "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    broken = planner(workspace, "audit", "--verify")
    assert broken.exit_code == 1 and "newest entries were deleted" in broken.output
    # Another command does not overwrite the evidence with the shortened chain's head.
    planner(workspace, "queue")
    assert planner(workspace, "audit", "--verify").exit_code == 1


def test_a_recomputed_chain_is_caught_by_the_head(workspace):
    from planner.store.audit import _digest

    apply(workspace, campaign(["Satu"]))
    planner(workspace, "approve", "1", user="sari")
    with sqlite3.connect(workspace / "planner.db") as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'budi' WHERE action = 'post.approve'")
        previous = "0" * 64
        for rid, at, actor, action, subject, detail, os_user in conn.execute(
                "SELECT id, at, actor, action, subject, detail, os_user FROM audit_log ORDER BY id").fetchall():
            digest = _digest(previous, at, actor, action, subject, detail, os_user)
            conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", [previous, digest, rid])
            previous = digest
        conn.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                     "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    broken = planner(workspace, "audit", "--verify")
    assert broken.exit_code == 1 and "rewritten" in broken.output


def test_missing_triggers_are_reported(workspace):
    apply(workspace, campaign(["Satu"]))
    with sqlite3.connect(workspace / "planner.db") as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
    broken = planner(workspace, "audit", "--verify")
    assert broken.exit_code == 1 and "audit_log_no_delete" in broken.output


# --- the demo never takes over a workspace -----------------------------------------------------------------
def test_demo_refuses_an_office_workspace(workspace):
    before = (workspace / "config.toml").read_bytes()
    refused = planner(workspace, "demo", "--dir", str(workspace))
    assert refused.exit_code == 2 and "office workspace" in " ".join(refused.output.split())
    assert (workspace / "config.toml").read_bytes() == before
    assert not (workspace / ".humas-planner-demo").exists()


def test_a_database_that_is_not_a_path_is_a_clear_error(tmp_path):
    (tmp_path / "config.toml").write_text('database = 5\ntimezone = "Asia/Jakarta"\n', "utf-8")
    result = planner(tmp_path, "queue")
    assert result.exit_code == 2 and "database" in result.output and "Traceback" not in result.output


def test_a_backup_keeps_a_head_that_catches_a_rewritten_head_file(workspace):
    apply(workspace, campaign(["Satu", "Dua"]))
    planner(workspace, "approve", "1", user="sari")
    assert planner(workspace, "backup").exit_code == 0
    [head_file] = (workspace / "backups").glob("planner-*.db.audit-head")
    assert head_file.stat().st_mode & 0o077 == 0
    with sqlite3.connect(workspace / "planner.db") as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)")
        conn.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                     "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    (workspace / "audit.head").unlink()  # the one beside the database is easy to reach: gone too
    broken = planner(workspace, "audit", "--verify")
    assert broken.exit_code == 1 and head_file.name in " ".join(broken.output.split())


@pytest.mark.parametrize("value, words", [('"ftp://evil"', "https://"), ("5", "bukan 5"),
                                          ('"http://192.0.2.2:18998"', "tanpa enkripsi")])
def test_an_api_address_that_would_leak_a_token_is_refused_at_load(tmp_path, value, words):
    (tmp_path / "config.toml").write_text(
        'database = "planner.db"\ntimezone = "Asia/Jakarta"\n[accounts.m]\nplatform = "mastodon"\n'
        f'api_base_url = {value}\n[accounts.m.credentials]\naccess_token = "env:X"\n', "utf-8")
    result = planner(tmp_path, "--lang", "id", "account", "check")
    assert result.exit_code == 2 and words in " ".join(result.output.split())
