"""A platform or proxy that echoes the request back in its error: the secrets in it never reach the user.

The "echoing proxy" here answers every request with an error in the platform's own format whose text
repeats the request: its path URL-encoded (the Telegram token is in it), the Authorization header lower-
and upper-cased and base64-encoded, a Basic header built from the Bluesky app password, the body
JSON-escaped, and 30 kB of page. Real adapters (real SDKs) talk to it over HTTP on 127.0.0.1; then the
whole tool does: `planner publish` (its own process), with what it stores (posts.last_error, post events, the audit log),
prints, logs, reports (JSON) and backs up.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import traceback
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from planner.cli.main import build_app
from planner.platforms import make_adapter
from planner.platforms.base import Account, OutgoingPost, PlatformError
from planner.platforms.redaction import ERROR_LIMIT
from planner.sandbox.workspace import SANDBOX_SECRETS, write_sandbox_config

JAKARTA = ZoneInfo("Asia/Jakarta")
FILLER = "<p>upstream error page</p>" * 1200  # ~30 kB


class _EchoingProxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        auth = self.headers.get("Authorization", "")
        parts = [f"path={quote(self.path, safe='')}",
                 "path_lower_hex=" + re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(self.path, safe="")),
                 f"auth_lower={auth.lower()}", f"auth_upper={auth.upper()}",
                 f"auth_b64={base64.b64encode(auth.encode()).decode()}", f"body={json.dumps(body)}"]
        try:
            login = json.loads(body) if body.startswith("{") else {}
        except ValueError:
            login = {}
        if isinstance(login, dict) and "password" in login:
            basic = base64.b64encode(f"{login.get('identifier')}:{login['password']}".encode()).decode()
            parts.append(f"echoed header: Authorization: Basic {basic}")
        echo = "request was " + " | ".join(parts) + " " + FILLER
        path = urlsplit(self.path).path
        if path.startswith("/bot"):
            status, answer = 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {echo}"}
        elif path.startswith("/2/"):
            status, answer = 400, {"title": "Invalid Request", "detail": echo, "type": "about:blank",
                                   "errors": [{"message": echo}]}
        elif path.startswith("/api/"):
            status, answer = 422, {"error": echo}
        elif path.startswith("/xrpc/"):
            status, answer = 400, {"error": "InvalidRequest", "message": echo}
        else:  # Graph
            status, answer = 400, {"error": {"message": echo, "type": "OAuthException", "code": 100}}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echoing_proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def forms_of(secret: str) -> list[str]:
    """How a secret can be recognised in a text (compared lower-cased)."""
    found = [secret, quote(secret, safe=""), json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode()]
    if ":" in secret:
        found.append(secret.split(":", 1)[1])  # a bot token's secret part
    return [f.lower() for f in found]


def assert_clean(text: str, secrets) -> None:
    low = text.lower()
    for secret in secrets:
        for form in forms_of(secret):
            assert form not in low, f"a form of {secret[:4]}... is in: {text[:300]!r}"


SECRETS = dict(SANDBOX_SECRETS)


def account(platform: str, base: str) -> Account:
    credentials = {"x": {"bearer_token": SECRETS["HUMAS_SANDBOX_X_TOKEN"]},
                   "facebook": {"page_access_token": SECRETS["HUMAS_SANDBOX_FB_TOKEN"]},
                   "mastodon": {"access_token": SECRETS["HUMAS_SANDBOX_MASTODON_TOKEN"]},
                   "bluesky": {"app_password": SECRETS["HUMAS_SANDBOX_BLUESKY_PASSWORD"]},
                   "telegram": {"bot_token": SECRETS["HUMAS_SANDBOX_TELEGRAM_TOKEN"]}}[platform]
    options = {"facebook": {"page_id": "100000000000001"}, "telegram": {"chat_id": "@kpudemak"}}.get(platform, {})
    return Account(f"kpu_{platform}", platform, handle="kpudemak.bsky.social" if platform == "bluesky" else "kpudemak",
                   api_base_url=base, credentials=credentials, options=options)


@pytest.mark.parametrize("platform", ["x", "facebook", "mastodon", "bluesky", "telegram"])
def test_an_adapter_error_echoing_the_request_holds_no_secret_and_is_cut(echoing_proxy, platform):
    adapter = make_adapter(account(platform, echoing_proxy), timeout=5)
    with pytest.raises(PlatformError) as failed:
        adapter.publish(OutgoingPost(post_id=1, idempotency_key=f"echo-{platform}",
                                     text="Rapat pleno rekapitulasi hari ini pukul 09.00 WIB."))
    error = failed.value
    shown = [error.message, str(error), repr(error), "".join(traceback.format_exception(error))]
    for text in shown:
        assert_clean(text, SECRETS.values())
    assert len(error.message) <= ERROR_LIMIT


def test_publish_stores_prints_logs_reports_and_backs_up_no_echoed_secret(echoing_proxy, tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = write_sandbox_config(tmp_path, echoing_proxy)
    run = CliRunner()

    def cli(*args: str):
        return run.invoke(build_app(), ["--config", str(config), "--lang", "id", *args], catch_exceptions=False)

    assert cli("init", str(tmp_path)).exit_code == 0
    due = datetime.now(JAKARTA).replace(tzinfo=None, microsecond=0) + timedelta(minutes=10)
    campaign = tmp_path / "campaigns" / "gema.toml"
    campaign.write_text(f"""
[campaign]
id = "gema"
name = "Uji gema"
timezone = "Asia/Jakarta"
start = {(due - timedelta(days=1)).date()}
end = {(due + timedelta(days=1)).date()}
channels = ["kpu_telegram", "kpu_mastodon", "kpu_bluesky", "kpu_fb"]

[goal]
objective = "Pemilih tahu jadwal."

[[content]]
id = "jadwal"
text = "Jadwal rapat pleno: hari ini pukul 09.00 WIB di kantor KPU."
at = {due.isoformat()}
""", "utf-8")
    applied = cli("campaign", "apply", str(campaign))
    assert applied.exit_code == 0, applied.output

    database = tmp_path / "planner.db"
    with sqlite3.connect(database) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM posts ORDER BY id")]
    assert len(ids) == 4
    # `planner publish` as its own process (as cron or an operator runs it): its log lines go to stderr.
    env = {**os.environ, **SECRETS, "PYTHONUNBUFFERED": "1"}
    runs = [subprocess.run([sys.executable, "-m", "planner", "--config", str(config), "--lang", "id", "publish",
                            str(post_id), "--now"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            for post_id in ids]
    published = "\n".join(r.stdout + r.stderr for r in runs)
    assert "request was" in published  # the platforms' words are logged and printed (masked)
    status = cli("status")
    report_file = tmp_path / "laporan.json"
    report = cli("report", "gema", "--format", "json", "--out", str(report_file))
    backup = cli("backup", "--dir", str(tmp_path / "cadangan"))
    assert backup.exit_code == 0, backup.output

    with sqlite3.connect(database) as db:
        errors = [row[0] for row in db.execute("SELECT last_error FROM posts")]
        events = [row[0] or "" for row in db.execute("SELECT detail FROM post_events")]
        audit = [" ".join(str(v) for v in row) for row in db.execute("SELECT * FROM audit_log")]
    assert len(errors) == 4 and all(errors), errors  # every post failed, with the platform's words kept
    assert any("request was" in e for e in errors)     # the echo itself is stored (masked), not dropped
    assert all(len(e) <= ERROR_LIMIT + 100 for e in errors)
    stored = [*errors, *events, *audit, published, status.output, report.output,
              report_file.read_text("utf-8") if report_file.exists() else ""]
    for text in stored:
        assert_clean(text, SECRETS.values())
    assert "Traceback" not in published
    for copy in [database, *Path(tmp_path / "cadangan").rglob("*")]:
        if copy.is_file():
            assert_clean(copy.read_bytes().decode("latin-1"), SECRETS.values())
