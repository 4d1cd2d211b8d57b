"""A stored token that runs out and has no refresh path: the staff chat hears of it N days before (default 7),
once per account and expiry; `account check` says until when it is valid. Renewable tokens are left out."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from planner.accounts import expiry
from planner.accounts.secrets import SecretStore
from planner.cli.main import build_app
from planner.config import load_config
from planner.publishing import token_expiry
from planner.publishing.dispatcher import Dispatcher
from planner.sandbox.workspace import SANDBOX_SECRETS, write_sandbox_config
from planner.store import outbox

STAFF_CHAT = "-1009876543210"


def cli(config, *args):
    return CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "id", *args], catch_exceptions=False)


@pytest.fixture
def office(sandbox, tmp_path, monkeypatch):
    """kpu_ig holds a token that runs out in two minutes, kpu_mastodon one that runs out in 30 days, kpu_x an
    OAuth 2.0 token (two minutes as well) that renews itself; all three in the tool's own secrets file."""
    monkeypatch.setenv("HUMAS_SECRETS_BACKEND", "file")
    for name, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(name, value)
    alerts = f'[alerts]\ntelegram_account = "kpu_telegram"\nchat_id = "{STAFF_CHAT}"\n'
    config = write_sandbox_config(tmp_path, sandbox.base_url, extra=alerts)
    text = config.read_text("utf-8")
    for env, ref in (("HUMAS_SANDBOX_IG_TOKEN", "secrets:kpu_ig/access_token"),
                     ("HUMAS_SANDBOX_MASTODON_TOKEN", "secrets:kpu_mastodon/access_token")):
        text = text.replace(f'"env:{env}"', f'"{ref}"')
    text = text.replace('bearer_token = "env:HUMAS_SANDBOX_X_TOKEN"', 'bearer_token = "secrets:kpu_x/access_token"')
    config.write_text(text, "utf-8")
    assert cli(config, "init", str(tmp_path)).exit_code == 0
    store = SecretStore(config, backend="file")
    now = time.time()
    store.save("kpu_ig", {"access_token": SANDBOX_SECRETS["HUMAS_SANDBOX_IG_TOKEN"], "expires_at": f"{now + 120:.0f}"})
    store.save("kpu_mastodon", {"access_token": SANDBOX_SECRETS["HUMAS_SANDBOX_MASTODON_TOKEN"],
                                "expires_at": f"{now + 30 * 86400:.0f}"})
    store.save("kpu_x", {"access_token": "x-access-0001", "refresh_token": "x-refresh-0001",
                         "expires_at": f"{now + 120:.0f}", "lifetime": "7200"})
    return config


def staff_messages(sandbox):
    return [p["text"] for p in sandbox.posts()["posts"] if p["platform"] == "telegram" and p["account"] == STAFF_CHAT]


def test_the_staff_chat_hears_once_of_a_token_that_cannot_be_renewed(office, sandbox):
    loaded = load_config(office)
    dispatcher = Dispatcher(loaded, workers=1)
    try:
        token_expiry.expiry_job(loaded, dispatcher)
        token_expiry.expiry_job(loaded, dispatcher)  # an hour later: not told again
        [alert] = staff_messages(sandbox)
        assert "token akun kpu_ig (instagram) berakhir" in alert and "tidak bisa diperbarui otomatis" in alert
        assert "planner account connect kpu_ig" in alert and "WIB" in alert
        assert "kpu_x" not in alert and "kpu_mastodon" not in alert  # renewable; 30 days away
        assert SANDBOX_SECRETS["HUMAS_SANDBOX_IG_TOKEN"] not in alert
        # Reconnected with a token that also runs out: that new expiry is told again.
        SecretStore(office, backend="file").save("kpu_ig", {"expires_at": f"{time.time() + 3 * 86400:.0f}"})
        token_expiry.expiry_job(loaded, dispatcher)
        assert len(staff_messages(sandbox)) == 2
        # Run out already (the job did not run in time): said as ended.
        later = datetime.now(timezone.utc) + timedelta(days=4)
        SecretStore(office, backend="file").save("kpu_ig", {"expires_at": f"{time.time() + 60:.0f}"})
        token_expiry.expiry_job(loaded, dispatcher, now=later)
        assert "sudah berakhir" in staff_messages(sandbox)[-1]
        # Reconnected with a token that does not expire: forgotten.
        SecretStore(office, backend="file").save("kpu_ig", {"expires_at": None})
        token_expiry.expiry_job(loaded, dispatcher)
        assert outbox.get_setting(dispatcher.db, token_expiry.WARNED_KEY) is None
        assert len(staff_messages(sandbox)) == 3
    finally:
        dispatcher.shutdown(timeout=1)


def test_token_expiry_days_is_how_far_ahead(office, sandbox):
    office.write_text(office.read_text("utf-8").replace("[alerts]\n", "[alerts]\ntoken_expiry_days = 45\n"), "utf-8")
    loaded = load_config(office)
    assert [name for name, _ in expiry.expiring(loaded, datetime.now(timezone.utc))] == ["kpu_ig", "kpu_mastodon"]
    office.write_text(office.read_text("utf-8").replace("token_expiry_days = 45", "token_expiry_days = -1"), "utf-8")
    refused = cli(office, "account", "list")
    assert refused.exit_code != 0 and "token_expiry_days" in refused.output


def test_account_check_says_until_when_and_what_to_do(office):
    result = cli(office, "account", "check", "kpu_ig")
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert "token berlaku sampai" in said and "tidak diperbarui otomatis" in said, said
    assert "planner account connect kpu_ig" in said
