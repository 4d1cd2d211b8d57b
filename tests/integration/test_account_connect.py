"""`planner account connect` for X (OAuth 2.0 with PKCE) against the sandbox, driven as a user would:
the CLI in a real process, the consent form submitted over HTTP, the loopback callback or the pasted
address; then the connection kept alive (renewal before expiry, rotating refresh tokens, two processes
renewing at once) and a revoked consent holding the account's posts until it is connected again."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from planner.sandbox.oauth import registry
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
from planner.store.db import utc_iso

ZONE = ZoneInfo("Asia/Jakarta")
CLIENT_ID = "humas-kpu-demak-client"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Office:
    """A workspace on the sandbox whose secrets live in the secrets file (no keyring on a server)."""

    def __init__(self, root: Path, sandbox):
        self.root = root
        self.sandbox = sandbox
        self.config = write_sandbox_config(root, sandbox.base_url,
                                           publishing='grace = "2h"\nlease = "30s"\n[publishing.pacing]\n'
                                                      'rate = 20.0\nburst = 10\nmax_in_flight = 4\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMAS_", "PLANNER_"))}
        self.env = export_sandbox_secrets(env)
        self.env.update({"PLANNER_CONFIG": str(self.config), "PYTHONUNBUFFERED": "1", "COLUMNS": "250",
                         "HUMAS_SECRETS_BACKEND": "file", "PYTHONDONTWRITEBYTECODE": "1"})
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)
        self.outputs: list[str] = []
        self.planner("init", str(root), check=True)

    def planner(self, *args: str, check: bool = False, timeout: float = 90) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "planner", *args], env=self.env, cwd=self.root,
                                capture_output=True, text=True, timeout=timeout)
        self.outputs.append(result.stdout + result.stderr)
        if check:
            assert result.returncode == 0, f"planner {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result

    def connect(self, *, paste: bool, username: str = "kpudemak", decision: str = "allow",
                client_secret: str = "") -> subprocess.CompletedProcess:
        """`planner account connect kpu_x`, the user consenting on the sandbox's page."""
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "planner", "account", "connect", "kpu_x", "--platform", "x",
                                 "--client-id", CLIENT_ID, "--port", str(port)],
                                env=self.env, cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            if "client_secret" not in self.stored("kpu_x") and self.stored("kpu_x").get("client_kind") is None:
                proc.stdin.write(client_secret + "\n")  # the hidden Client Secret prompt (empty: public client)
                proc.stdin.flush()
            url = None
            seen = []
            while url is None:
                line = proc.stdout.readline()
                assert line, "".join(seen)
                seen.append(line)
                if line.startswith(self.sandbox.base_url + "/i/oauth2/authorize?"):
                    url = line.strip()
            page = requests.get(url, timeout=10)
            assert page.status_code == 200 and "Authorize app" in page.text
            request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
            answer = requests.post(self.sandbox.base_url + "/i/oauth2/authorize", allow_redirects=False, timeout=10,
                                   data={"request_id": request_id, "username": username, "decision": decision})
            assert answer.status_code == 302
            location = answer.headers["Location"]
            assert location.startswith(f"http://127.0.0.1:{port}/callback?")
            if paste:  # the browser is on another computer: its 127.0.0.1 is not us; the address is pasted
                proc.stdin.write(location + "\n")
                proc.stdin.flush()
            else:      # the browser follows the redirect to our loopback listener
                assert "Akun tersambung" in requests.get(location, timeout=10).text
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        output = "".join(seen) + out
        self.outputs.append(output)
        return subprocess.CompletedProcess(proc.args, proc.returncode, output, "")

    def stored(self, account: str) -> dict:
        path = self.root / ".secrets" / "secrets.json"
        return json.loads(path.read_text("utf-8")).get(account, {}) if path.exists() else {}

    def rows(self, sql: str, params=()) -> list[dict]:
        conn = sqlite3.connect(self.root / "planner.db", timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, list(params))]
        finally:
            conn.close()

    def due_now(self) -> None:
        """Every post's time comes now (moved forward, not waited for)."""
        conn = sqlite3.connect(self.root / "planner.db", timeout=30)
        try:
            with conn:
                conn.execute("UPDATE posts SET due_at = ?", [utc_iso(datetime.now(ZONE))])
        finally:
            conn.close()

    def apply(self, campaign_id: str, times: list[datetime], channel: str = "kpu_x") -> None:
        lines = ["[campaign]", f'id = "{campaign_id}"', f'name = "Uji {campaign_id}"', 'owner = "Humas KPU"',
                 'timezone = "Asia/Jakarta"', f"start = {(times[0].date() - timedelta(days=1)).isoformat()}",
                 f"end = {(times[-1].date() + timedelta(days=2)).isoformat()}", f'channels = ["{channel}"]', "",
                 "[goal]", 'objective = "Menguji sambungan akun."', ""]
        for i, at in enumerate(times):
            lines += ["[[content]]", f'id = "{campaign_id}-{i:03d}"',
                      f'text = "Info resmi KPU ({campaign_id}) nomor {i}: cek DPT online."', f"at = {at.isoformat()}", ""]
        path = self.root / f"{campaign_id}.toml"
        path.write_text("\n".join(lines), "utf-8")
        self.planner("campaign", "apply", str(path), check=True)

    def all_secrets(self) -> list[str]:
        reg = registry(self.sandbox.state)
        found = []
        for grant in reg.grants:
            found += list(grant.access) + list(grant.used_refresh) + ([grant.refresh] if grant.refresh else [])
        return found


def _now_local() -> datetime:
    return datetime.now(ZONE).replace(tzinfo=None, microsecond=0)


def _assert_no_secret_anywhere(office: Office) -> None:
    """No token in config.toml, the database (and its WAL), backups, logs, or anything the CLI printed."""
    secrets = office.all_secrets()
    assert secrets
    blobs = {"output": "\n".join(office.outputs).encode()}
    for path in office.root.rglob("*"):
        if path.is_file() and ".secrets" not in path.parts:
            blobs[str(path)] = path.read_bytes()
    for where, blob in blobs.items():
        leaked = [s[:6] for s in secrets if s.encode() in blob]
        assert not leaked, f"token {leaked} found in {where}"


def test_connect_x_through_the_loopback_then_publish(sandbox, tmp_path):
    office = Office(tmp_path / "kantor", sandbox)
    result = office.connect(paste=False)
    assert result.returncode == 0, result.stdout
    assert "Akun kpu_x tersambung sebagai @kpudemak" in result.stdout
    assert "diperbarui otomatis" in result.stdout
    assert "Traceback" not in result.stdout
    # config.toml holds references only; the secrets file is private.
    config = office.config.read_text("utf-8")
    assert 'bearer_token = "secrets:kpu_x/access_token"' in config
    assert 'refresh_token = "secrets:kpu_x/refresh_token"' in config
    folder = office.root / ".secrets"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert office.stored("kpu_x")["client_id"] == CLIENT_ID
    # The handle configured before (kpudemak) matches: no warning.
    assert "sedangkan config.toml menyebut" not in result.stdout
    check = office.planner("account", "check", "kpu_x")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "diperbarui otomatis" in check.stdout
    office.apply("sambung", [_now_local() + timedelta(hours=1)])
    ready = office.planner("check")
    assert "kpu_x: token diperbarui otomatis (token akses saat ini berlaku sampai" in " ".join(ready.stdout.split()), \
        ready.stdout + ready.stderr
    assert re.search(r"berlaku sampai \w+, \d{1,2} \w+ \d{4} \d{2}\.\d{2} WIB", " ".join(check.stdout.split()))
    office.due_now()
    office.planner("publish", "--due", check=True)
    assert [r["state"] for r in office.rows("SELECT state FROM posts")] == ["published"]
    _assert_no_secret_anywhere(office)


def test_connect_x_by_pasting_the_address_on_a_headless_server(sandbox, tmp_path):
    office = Office(tmp_path / "kantor", sandbox)
    result = office.connect(paste=True, username="kpu_demak_resmi", client_secret="conf-secret-for-the-test-77")
    assert result.returncode == 0, result.stdout
    # A different account than the configured handle: a warning naming both.
    assert "@kpu_demak_resmi" in result.stdout and "kpudemak" in result.stdout
    assert "sedangkan config.toml menyebut" in result.stdout
    stored = office.stored("kpu_x")
    assert stored["client_kind"] == "confidential"
    assert "conf-secret-for-the-test-77" not in office.config.read_text("utf-8")
    assert "conf-secret-for-the-test-77" not in result.stdout
    # Asked once: connecting again does not ask for the Client Secret (nothing is written for it).
    again = office.connect(paste=True, username="kpudemak")
    assert again.returncode == 0, again.stdout
    assert office.stored("kpu_x")["client_secret"] == "conf-secret-for-the-test-77"


def test_connect_refused_consent_and_wrong_state_change_nothing(sandbox, tmp_path):
    office = Office(tmp_path / "kantor", sandbox)
    before = office.config.read_text("utf-8")
    denied = office.connect(paste=True, decision="deny")
    assert denied.returncode != 0
    assert "Persetujuan ditolak" in denied.stdout and "Traceback" not in denied.stdout
    assert office.config.read_text("utf-8") == before


def test_a_campaign_longer_than_several_token_lifetimes_publishes_every_post_once(sandbox, tmp_path):
    registry(sandbox.state).access_lifetime = 2  # seconds: X's two hours, compressed
    office = Office(tmp_path / "kantor", sandbox)
    assert office.connect(paste=True).returncode == 0
    start = _now_local() + timedelta(seconds=3)
    office.apply("panjang", [start + timedelta(seconds=2 * i) for i in range(6)])  # ~10 s: 5 lifetimes
    run = subprocess.Popen([sys.executable, "-m", "planner", "run"], env=office.env, cwd=office.root,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        # Not polled meanwhile: the database is read once the campaign's time is over.
        time.sleep(max(0.0, (start + timedelta(seconds=11) - _now_local()).total_seconds()))
        while time.monotonic() < deadline:
            states = [r["state"] for r in office.rows("SELECT state FROM posts")]
            if states and all(s == "published" for s in states):
                break
            time.sleep(0.5)
    finally:
        run.terminate()
        out, _ = run.communicate(timeout=60)
    office.outputs.append(out)
    assert [r["state"] for r in office.rows("SELECT state FROM posts")] == ["published"] * 6, out
    summary = sandbox.posts()
    texts = [p["text"] for p in summary["posts"] if p["platform"] == "x"]
    reg = registry(sandbox.state)
    assert len(reg.grants) == 1 and len(reg.grants[0].used_refresh) >= 2  # renewed in between
    assert all(ok for _, ok in reg.refresh_uses)  # never a dead refresh token sent
    assert len(texts) == len(set(texts)) == 6 and not summary["duplicates"]
    assert "Traceback" not in out
    _assert_no_secret_anywhere(office)


def _refresh_many(config: str, failed: str, rounds: int, queue) -> None:
    from planner.accounts.tokens import XTokens
    from planner.config import load_config

    cfg = load_config(Path(config))
    account = cfg.accounts["kpu_x"]
    tokens = XTokens(cfg.path, "kpu_x", account.api_base_url, account.credentials)
    got = []
    for _ in range(rounds):
        got.append(tokens.refresh(failed=tokens.record()["access_token"]))
    queue.put(got)


def test_two_processes_renewing_at_once_keep_a_valid_refresh_token(sandbox, tmp_path):
    office = Office(tmp_path / "kantor", sandbox)
    assert office.connect(paste=True).returncode == 0
    os.environ["HUMAS_SECRETS_BACKEND"] = "file"
    try:
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_refresh_many, args=(str(office.config), "", 5, queue)) for _ in range(2)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
    finally:
        os.environ.pop("HUMAS_SECRETS_BACKEND", None)
    reg = registry(sandbox.state)
    assert all(ok for _, ok in reg.refresh_uses), reg.refresh_uses  # no one ever sent a used refresh token
    assert 5 <= len(reg.refresh_uses) <= 10  # a process that finds a newer token stored uses it, asks nothing
    assert all(results)
    # The stored refresh token is the live one: one more renewal works.
    assert reg.grants[0].refresh == office.stored("kpu_x")["refresh_token"]
    check = office.planner("account", "check", "kpu_x")
    assert check.returncode == 0, check.stdout + check.stderr


def test_revoked_consent_holds_the_posts_and_connect_releases_them(sandbox, tmp_path):
    registry(sandbox.state).access_lifetime = 2
    office = Office(tmp_path / "kantor", sandbox)
    assert office.connect(paste=True).returncode == 0
    registry(sandbox.state).revoke_user("kpudemak")  # consent withdrawn in X's settings
    office.apply("cabut", [_now_local() + timedelta(hours=1), _now_local() + timedelta(hours=1, seconds=1)])
    office.due_now()
    sent = office.planner("publish", "--due")
    assert "Traceback" not in sent.stdout + sent.stderr
    rows = office.rows("SELECT id, state, hold_reason FROM posts ORDER BY id")
    assert [r["state"] for r in rows] == ["held", "held"], (rows, sent.stdout, sent.stderr)
    assert {r["hold_reason"] for r in rows} == {"reconnect needed: kpu_x"}
    shown = office.planner("post", "show", str(rows[0]["id"]), check=True).stdout
    assert "akun perlu disambungkan ulang: planner account connect kpu_x" in " ".join(shown.split())
    ready = office.planner("check")  # what the hourly readiness job also tells the staff chat
    said = " ".join((ready.stdout + ready.stderr).split())
    assert ready.returncode != 0 and "planner account connect kpu_x" in said and "Traceback" not in said, said
    assert sandbox.posts()["total"] == 0
    # The first one stays held past its campaign's grace (2 hours): released, it becomes missed, as after any hold.
    conn = sqlite3.connect(office.root / "planner.db")
    with conn:
        conn.execute("UPDATE posts SET due_at = ? WHERE id = ?",
                     [utc_iso(datetime.now(ZONE) - timedelta(hours=3)), rows[0]["id"]])
    conn.close()
    again = office.connect(paste=True)
    assert again.returncode == 0, again.stdout
    assert "2 unggahan akun kpu_x yang tertahan kini masuk antrean lagi" in again.stdout
    late = office.planner("publish", "--due")
    assert late.returncode == 1 and "Traceback" not in late.stdout + late.stderr  # a missed post needs a person
    assert [r["state"] for r in office.rows("SELECT state FROM posts ORDER BY id")] == ["missed", "published"]
    assert sandbox.posts()["total"] == 1
    office.planner("backup", check=True)  # the backup is scanned too
    assert list((office.root / "backups").iterdir())
    _assert_no_secret_anywhere(office)


def test_secrets_file_with_wider_mode_is_refused(sandbox, tmp_path):
    office = Office(tmp_path / "kantor", sandbox)
    assert office.connect(paste=True).returncode == 0
    (office.root / ".secrets" / "secrets.json").chmod(0o644)
    check = office.planner("account", "check", "kpu_x")
    assert check.returncode != 0
    assert "terlalu longgar" in check.stdout + check.stderr and "chmod 600" in check.stdout + check.stderr
    assert "Traceback" not in check.stdout + check.stderr


# --- Telegram ---------------------------------------------------------------------------------------------
BOT_TOKEN = "555777999:AAconnectTelegramBotTokenForTest004"


def _connect_telegram(office: Office, chat: str, token: str = BOT_TOKEN) -> subprocess.CompletedProcess:
    """The bot token typed at the hidden prompt, the channel given as an option."""
    result = subprocess.run([sys.executable, "-m", "planner", "account", "connect", "kpu_telegram",
                             "--chat-id", chat], env=office.env, cwd=office.root, input=token + "\n",
                            capture_output=True, text=True, timeout=60)
    office.outputs.append(result.stdout + result.stderr)
    return result


def test_connect_telegram_checks_the_bot_may_post_in_the_channel(sandbox, tmp_path):
    office = Office(tmp_path / "kantor", sandbox)
    before = office.config.read_text("utf-8")
    refused = _connect_telegram(office, "@nopost_kpudemak")
    assert refused.returncode != 0
    said = " ".join((refused.stdout + refused.stderr).split())
    assert "jadikan bot administrator kanal" in said and "Traceback" not in said
    assert office.config.read_text("utf-8") == before
    wrong = _connect_telegram(office, "@kpudemak", token="555777999:badTokenThatTelegramRefuses00000001")
    assert wrong.returncode != 0 and "menolak token bot" in " ".join((wrong.stdout + wrong.stderr).split())
    result = _connect_telegram(office, "@kpudemak")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bot @humas_555777999_bot boleh mengunggah di kanal @kpudemak" in " ".join(result.stdout.split())
    config = office.config.read_text("utf-8")
    assert 'bot_token = "secrets:kpu_telegram/bot_token"' in config and BOT_TOKEN not in config
    assert office.stored("kpu_telegram")["bot_token"] == BOT_TOKEN
    checked = office.planner("account", "check", "kpu_telegram", check=True)
    assert "token bot tidak kedaluwarsa" in checked.stdout
    for output in office.outputs:
        assert BOT_TOKEN not in output and BOT_TOKEN.split(":")[1] not in output


# --- Bluesky ----------------------------------------------------------------------------------------------
APP_PASSWORD = "abcd-efgh-2345-wxyz"


def _connect_bluesky(office: Office, password: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "planner", "account", "connect", "kpu_bluesky"],
                            env=office.env, cwd=office.root, input=password + "\n", capture_output=True, text=True,
                            timeout=60)
    office.outputs.append(result.stdout + result.stderr)
    return result


def test_connect_bluesky_takes_an_app_password_and_refuses_the_main_one(sandbox, tmp_path):
    office = Office(tmp_path / "kantor", sandbox)
    before = office.config.read_text("utf-8")
    main = _connect_bluesky(office, "kata-sandi-utama-kantor-2026")
    said = " ".join((main.stdout + main.stderr).split())
    assert main.returncode != 0 and "kata sandi utama" in said and "Traceback" not in said
    assert office.config.read_text("utf-8") == before
    result = _connect_bluesky(office, APP_PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Akun kpu_bluesky tersambung sebagai @kpudemak.bsky.social" in result.stdout
    config = office.config.read_text("utf-8")
    assert 'app_password = "secrets:kpu_bluesky/app_password"' in config and APP_PASSWORD not in config
    checked = office.planner("account", "check", "kpu_bluesky", check=True)
    assert "sesi diperbarui otomatis" in checked.stdout
    for output in office.outputs:
        assert APP_PASSWORD not in output and "kata-sandi-utama-kantor-2026" not in output


# --- Mastodon ---------------------------------------------------------------------------------------------
def _connect_mastodon(office: Office, *, username: str = "kpudemak") -> subprocess.CompletedProcess:
    """`planner account connect kpu_mastodon`: the app registered on the instance, the consent given on its
    page, the redirected address pasted back."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "planner", "account", "connect", "kpu_mastodon", "--port", str(port)],
                            env=office.env, cwd=office.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
            if line.startswith(office.sandbox.base_url + "/oauth/authorize?"):
                url = line.strip()
        page = requests.get(url, timeout=10)
        assert page.status_code == 200, page.text
        request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
        answer = requests.post(office.sandbox.base_url + "/oauth/authorize", allow_redirects=False, timeout=10,
                               data={"request_id": request_id, "username": username, "decision": "allow"})
        assert answer.status_code == 302
        proc.stdin.write(answer.headers["Location"] + "\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(seen) + out
    office.outputs.append(output)
    return subprocess.CompletedProcess(proc.args, proc.returncode, output, "")


def test_connect_mastodon_registers_the_app_and_a_revoked_token_holds_the_posts(sandbox, tmp_path):
    from planner.sandbox.mastodon_oauth import registry as mastodon_registry

    office = Office(tmp_path / "kantor", sandbox)
    result = _connect_mastodon(office)
    assert result.returncode == 0, result.stdout
    assert "Akun kpu_mastodon tersambung sebagai @kpudemak" in result.stdout
    config = office.config.read_text("utf-8")
    assert 'access_token = "secrets:kpu_mastodon/access_token"' in config
    reg = mastodon_registry(sandbox.state)
    assert len(reg.apps) == 1 and next(iter(reg.apps.values()))["scopes"] == [
        "read:accounts", "read:statuses", "read:search", "write:statuses", "write:media"]
    office.planner("account", "check", "kpu_mastodon", check=True)
    reg.revoke_user("kpudemak")  # the app removed under Authorized apps
    office.apply("masto", [_now_local() + timedelta(hours=1)], channel="kpu_mastodon")
    office.due_now()
    office.planner("publish", "--due")
    rows = office.rows("SELECT state, hold_reason, channel FROM posts")
    assert [(r["state"], r["hold_reason"]) for r in rows] == [("held", "reconnect needed: kpu_mastodon")], rows
    again = _connect_mastodon(office)
    assert again.returncode == 0, again.stdout
    assert "1 unggahan akun kpu_mastodon yang tertahan kini masuk antrean lagi" in again.stdout
    office.planner("publish", "--due", check=True)
    rows = office.rows("SELECT state FROM posts")
    assert [r["state"] for r in rows] == ["published"]
    tokens = list(reg.tokens)
    for blob in office.outputs + [office.config.read_text("utf-8")]:
        assert not any(token in blob for token in tokens)


# --- Facebook Page and Instagram ----------------------------------------------------------------------------
APP_ID = "1234567890123456"
APP_SECRET = "meta-app-secret-for-the-connect-test-991"


def _connect_facebook(office: Office, account: str, *extra: str, answers: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Facebook Login in the browser (the consent form), the redirected address pasted back."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "planner", "account", "connect", account, "--client-id", APP_ID,
                             "--port", str(port), *extra], env=office.env, cwd=office.root, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        if "app_secret" not in office.stored(account):
            proc.stdin.write(APP_SECRET + "\n")
            proc.stdin.flush()
        url = None
        while url is None:
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
            if line.startswith(office.sandbox.base_url + "/v23.0/dialog/oauth?"):
                url = line.strip()
        page = requests.get(url, timeout=10)
        assert page.status_code == 200, page.text
        request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
        answer = requests.post(office.sandbox.base_url + "/v23.0/dialog/oauth", allow_redirects=False, timeout=10,
                               data={"request_id": request_id, "decision": "allow"})
        assert answer.status_code == 302
        proc.stdin.write(answer.headers["Location"] + "\n" + "".join(a + "\n" for a in answers))
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(seen) + out
    office.outputs.append(output)
    return subprocess.CompletedProcess(proc.args, proc.returncode, output, "")


def test_connect_facebook_page_and_instagram_from_the_page_token(sandbox, tmp_path):
    from planner.sandbox.graph_oauth import registry as graph_registry

    office = Office(tmp_path / "kantor", sandbox)
    result = _connect_facebook(office, "kpu_fb")  # page_id in config.toml picks the Page
    assert result.returncode == 0, result.stdout
    assert "Akun kpu_fb tersambung ke KPU Kabupaten Demak." in result.stdout
    assert "tidak kedaluwarsa" in result.stdout
    config = office.config.read_text("utf-8")
    assert 'page_access_token = "secrets:kpu_fb/page_access_token"' in config
    check = office.planner("account", "check", "kpu_fb")
    assert check.returncode == 0 and "KPU Kabupaten Demak" in check.stdout, check.stdout + check.stderr
    # Instagram: the one Page with an Instagram business account is found by itself.
    ig = _connect_facebook(office, "kpu_ig", "--platform", "instagram")
    assert ig.returncode == 0, ig.stdout
    assert "Instagram 17841400000000001" in ig.stdout
    config = office.config.read_text("utf-8")
    assert 'ig_user_id = "17841400000000001"' in config and 'access_token = "secrets:kpu_ig/access_token"' in config
    assert 'media_base_url = "https://kab-demak.kpu.go.id/media"' in config  # the rest of the account is kept
    checked = office.planner("account", "check", "kpu_ig", check=True)
    assert "token Page tidak kedaluwarsa" in checked.stdout
    # Asked once: the second connection of kpu_fb takes the app secret from the store; two Pages, one chosen.
    again = _connect_facebook(office, "kpu_fb", "--page-id", "100000000000002")
    assert again.returncode == 0 and "PPID Kabupaten Demak" in again.stdout, again.stdout
    secrets = [APP_SECRET, *graph_registry(sandbox.state).page_tokens, *graph_registry(sandbox.state).user_tokens]
    for blob in [*office.outputs, office.config.read_text("utf-8")]:
        assert not any(s in blob for s in secrets)


# --- X: a token that may only read is refused by the check -------------------------------------------------
def test_x_check_refuses_tokens_that_may_only_read(sandbox, tmp_path):
    from planner.accounts.resolve import resolve_account
    from planner.config import load_config as read_config
    from planner.platforms import make_adapter
    from planner.platforms.base import Account, CredentialsError, OutgoingPost

    readonly = Account("kpu_x", "x", handle="kpudemak", api_base_url=sandbox.base_url, credentials={
        "consumer_key": "ck-humas-5521", "consumer_secret": "cs-very-secret-8812",
        "access_token": "1234567890-at-humas-readonly", "access_token_secret": "ats-very-secret-4410"})
    with pytest.raises(CredentialsError, match="x-access-level: read"):
        make_adapter(readonly).check_credentials()
    with pytest.raises(CredentialsError, match="may only read"):  # posting anyway: held for reconnection, not failed
        make_adapter(readonly).publish(OutgoingPost(post_id=1, idempotency_key="k", text="Info resmi KPU"))
    assert sandbox.posts()["total"] == 0
    # OAuth 2.0: a grant without tweet.write (an older consent) is refused with the reconnect command.
    office = Office(tmp_path / "kantor", sandbox)
    assert office.connect(paste=True).returncode == 0
    path = office.root / ".secrets" / "secrets.json"
    data = json.loads(path.read_text("utf-8"))
    data["kpu_x"]["scope"] = "tweet.read users.read offline.access"
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(CredentialsError, match="planner account connect kpu_x"):
        make_adapter(resolve_account(read_config(office.config), "kpu_x")).check_credentials()
    check = office.planner("account", "check", "kpu_x")
    assert check.returncode != 0 and "Traceback" not in check.stdout + check.stderr
