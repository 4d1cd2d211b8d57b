"""`planner account check` against the sandbox: who each account posts as, and its limits in the user's words."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from planner.cli.main import build_app
from planner.sandbox.workspace import SANDBOX_SECRETS, write_sandbox_config


def test_account_check_says_the_limits_in_indonesian_with_local_times(sandbox, tmp_path, monkeypatch):
    for name, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(name, value)
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    result = CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "id", "account", "check"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0].lstrip("✓ "): line for line in result.output.splitlines() if line.startswith("✓")}
    assert set(lines) == {"kpu_x", "kpu_fb", "kpu_ig", "kpu_mastodon", "kpu_bluesky", "kpu_telegram"}, result.output
    assert re.search(r"sisa 74 dari 75 permintaan, jendela baru mulai .+ WIB", lines["kpu_x"]), lines["kpu_x"]
    assert re.search(r"sisa 299 dari 300 permintaan, jendela baru mulai .+ WIB", lines["kpu_mastodon"])
    assert re.search(r"sisa [\d.]+ dari 3\.000 permintaan", lines["kpu_bluesky"]), lines["kpu_bluesky"]
    assert re.search(r"kuota panggilan terpakai [\d.]+%", lines["kpu_fb"]), lines["kpu_fb"]
    assert "sudah 0 dari 50 unggahan yang diizinkan dalam 24 jam" in lines["kpu_ig"], lines["kpu_ig"]
    assert "UTC" not in result.output and "requests left" not in result.output


def test_account_check_refuses_a_page_token_of_another_page_naming_both(sandbox, tmp_path, monkeypatch):
    """kpu_fb is page_id 100000000000001; a Page token of the office's other Page opens that Page instead."""
    for name, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUMAS_SANDBOX_FB_TOKEN", sandbox.page_token("100000000000002"))
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    result = CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "id", "account", "check", "kpu_fb"],
                                catch_exceptions=False)
    assert result.exit_code != 0, result.output
    said = " ".join(result.output.split())
    assert "✗ kpu_fb" in said and "PPID Kabupaten Demak (100000000000002)" in said, said
    assert "bukan milik Page 100000000000001" in said and "planner account connect kpu_fb" in said, said
