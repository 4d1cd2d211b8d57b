"""`planner account check` and `planner check` say when an account points at the sandbox, and refuse an
api_base_url that would carry a token in clear text to another machine (nothing is sent to it)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from planner.cli.main import build_app
from planner.config import load_config
from planner.platforms.endpoints import is_sandbox
from planner.publishing.preflight import NOTE, PROBLEM, check_readiness, describe
from planner.sandbox.workspace import SANDBOX_SECRETS, sandbox_accounts_toml, write_sandbox_config
from planner.store.db import open_db

JAKARTA = ZoneInfo("Asia/Jakarta")
CHANNELS = ("kpu_x", "kpu_fb", "kpu_ig", "kpu_mastodon", "kpu_bluesky", "kpu_telegram")


def cli(config: Path, *args: str):
    return CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "id", *args], catch_exceptions=False)


@pytest.fixture
def secrets(monkeypatch):
    for name, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(name, value)


class _Plain(BaseHTTPRequestHandler):
    """A local web server that is not the sandbox (a proxy, another tool)."""

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_is_sandbox_asks_only_and_exactly_the_sandbox(sandbox):
    assert is_sandbox(sandbox.base_url) and is_sandbox(sandbox.base_url + "/")
    assert is_sandbox(f"http://localhost:{sandbox.port}")
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        assert not is_sandbox(f"http://127.0.0.1:{other.server_address[1]}")
    finally:
        other.shutdown()
        other.server_close()
    assert not is_sandbox(None) and not is_sandbox("http://api.example.org")  # not asked at all
    assert not is_sandbox(f"http://127.0.0.1:{other.server_address[1]}")  # nothing listens any more


# --- planner account check ----------------------------------------------------------------------------------
def test_account_check_says_each_account_is_on_the_sandbox(sandbox, tmp_path, secrets):
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    result = cli(config, "account", "check")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for channel in CHANNELS:
        assert f"✓ {channel}:" in result.output
        assert f"Akun {channel} mengarah ke sandbox ({sandbox.base_url}), bukan ke platform sungguhan" in text
    english = CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "en", "account", "check", "kpu_x"])
    assert "Account kpu_x points at a sandbox" in " ".join(english.output.split())


def test_account_check_refuses_plain_http_to_another_machine_and_sends_nothing(sandbox, tmp_path, secrets):
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    text = config.read_text("utf-8")
    # kpu_x now points at a machine elsewhere over plain http (this one is never resolved nor asked).
    config.write_text(text.replace(f'handle = "kpudemak"\napi_base_url = "{sandbox.base_url}"',
                                   'handle = "kpudemak"\napi_base_url = "http://api.example.invalid:8787"', 1),
                      "utf-8")
    assert "http://api.example.invalid:8787" in config.read_text("utf-8")
    result = cli(config, "account", "check", "kpu_x")
    assert result.exit_code != 0
    said = " ".join(result.output.split())
    assert "http://api.example.invalid:8787" in said and "tanpa enkripsi" in said and "https://" in said
    assert "Traceback" not in result.output
    assert SANDBOX_SECRETS["HUMAS_SANDBOX_X_TOKEN"] not in result.output
    assert not [r for r in sandbox.state.requests if r["platform"] == "x"]


# --- planner check -----------------------------------------------------------------------------------------------
@pytest.fixture
def office(sandbox, tmp_path, secrets):
    config = write_sandbox_config(tmp_path, sandbox.base_url)
    assert cli(config, "init", str(tmp_path)).exit_code == 0
    soon = datetime.now(JAKARTA).replace(tzinfo=None, microsecond=0, second=0) + timedelta(hours=2)
    campaign = tmp_path / "campaigns" / "siaga.toml"
    campaign.write_text(f"""
[campaign]
id = "siaga"
name = "Siaga hari pemungutan suara"
timezone = "Asia/Jakarta"
start = {(soon - timedelta(days=1)).date()}
end = {(soon + timedelta(days=3)).date()}
channels = ["kpu_x", "kpu_mastodon"]

[goal]
objective = "Pemilih datang ke TPS."

[[content]]
id = "tps-buka"
text = "TPS buka pukul 07.00 WIB. Bawa KTP-el dan surat pemberitahuan."
at = {soon.isoformat()}
""", "utf-8")
    result = cli(config, "campaign", "apply", str(campaign))
    assert result.exit_code == 0, result.output
    return config


def test_planner_check_notes_the_sandbox_without_calling_it_a_problem(office, sandbox):
    loaded = load_config(office)
    db = open_db(loaded.database)
    result = check_readiness(loaded, db, now=datetime.now(timezone.utc), scheduler_running=True)
    assert result.findings == []
    assert sorted((n.level, n.code, n.channel) for n in result.notes) == [
        (NOTE, "sandbox", "kpu_mastodon"), (NOTE, "sandbox", "kpu_x")]
    assert all(len(n.post_ids) == 1 for n in result.notes)
    lines = describe(result, loaded.timezone)
    assert all(level == NOTE for _, level in lines)
    assert any(line.startswith("Akun kpu_x mengarah ke sandbox") for line, _ in lines)

    shown = cli(office, "check")
    text = " ".join(shown.output.split())
    assert "Akun kpu_mastodon mengarah ke sandbox" in text and "Akun kpu_x mengarah ke sandbox" in text


def test_planner_check_names_an_address_the_token_must_not_go_to(office, sandbox):
    loaded = load_config(office)
    # As if config validation had been skipped: the check (and the adapter) still refuse it.
    loaded.accounts["kpu_x"] = dataclasses.replace(loaded.accounts["kpu_x"], api_base_url="http://10.1.2.3:8787")
    before = len(sandbox.state.requests)
    result = check_readiness(loaded, open_db(loaded.database), now=datetime.now(timezone.utc),
                             scheduler_running=True)
    [finding] = result.findings
    assert (finding.level, finding.code, finding.channel) == (PROBLEM, "endpoint", "kpu_x")
    assert finding.params == {"key": "endpoint.plain_http", "url": "http://10.1.2.3:8787"}
    assert len(finding.post_ids) == 1
    [line] = [line for line, level in describe(result, loaded.timezone) if level == PROBLEM]
    assert "http://10.1.2.3:8787" in line and "tanpa enkripsi" in line and "Unggahan yang tertahan" in line
    assert not [r for r in sandbox.state.requests[before:] if r["platform"] == "x"]
    assert [n.channel for n in result.notes] == ["kpu_mastodon"]


def test_the_sandbox_is_recognised_by_its_localhost_name_too(sandbox, tmp_path, secrets):
    config = tmp_path / "config.toml"
    config.write_text('database = "planner.db"\ntimezone = "Asia/Jakarta"\n'
                      + sandbox_accounts_toml(sandbox.base_url).replace(sandbox.base_url,
                                                                        sandbox.base_url.replace("127.0.0.1",
                                                                                                 "localhost")),
                      "utf-8")
    config.chmod(0o600)
    result = cli(config, "account", "check", "kpu_mastodon")
    assert result.exit_code == 0 and "mengarah ke sandbox" in result.output  # localhost is the sandbox too
