"""config.toml: lookup, paths, checks, secret references."""

from __future__ import annotations

import os
import sys
import types
from datetime import timedelta
from pathlib import Path

import pytest

from planner.accounts.resolve import resolve_account, resolve_secret
from planner.config import (
    CONFIG_ENV,
    ConfigError,
    find_config_path,
    load_config,
    parse_duration,
)
from planner.i18n import t

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"

X_ACCOUNT = """
[accounts.kpu_x]
platform = "x"
handle = "kpudemak"
[accounts.kpu_x.credentials]
bearer_token = "{value}"
"""


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


def rendered(exc: ConfigError, lang: str = "id") -> str:
    return t(exc.key, lang, **exc.params)


# --- where the config is -------------------------------------------------------------------------

def test_lookup_order_explicit_then_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert find_config_path(None) == tmp_path / "config.toml"
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "env.toml"))
    assert find_config_path(None) == tmp_path / "env.toml"
    assert find_config_path(tmp_path / "explicit.toml") == tmp_path / "explicit.toml"


def test_paths_are_relative_to_the_config_file_not_the_cwd(tmp_path, monkeypatch):
    config = write(tmp_path / "kantor" / "config.toml",
                   'database = "data/humas.db"\ncampaigns_dir = "kampanye"\nreports_dir = "laporan"\n')
    elsewhere = tmp_path / "lain"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_config(Path("../kantor/config.toml"))
    assert loaded.database == (tmp_path / "kantor" / "data" / "humas.db").resolve()
    assert loaded.campaigns_dir == (tmp_path / "kantor" / "kampanye").resolve()
    assert loaded.reports_dir == (tmp_path / "kantor" / "laporan").resolve()
    assert loaded.path == config.resolve()


def test_the_example_config_loads_with_its_defaults(tmp_path):
    config = load_config(write(tmp_path / "config.toml", EXAMPLE.read_text("utf-8")))
    assert config.timezone.key == "Asia/Jakarta"
    assert config.language == "id"
    assert config.grace == timedelta(hours=2)
    assert config.lease == timedelta(minutes=2)
    assert config.keep_jobs == timedelta(days=14)
    assert config.workers == 8
    assert set(config.accounts) == {"kpu_x", "kpu_fb", "kpu_ig", "kpu_mastodon", "kpu_bluesky", "kpu_telegram"}
    assert config.accounts["kpu_fb"].options["page_id"] == "100000000000001"
    assert config.accounts["kpu_x"].credentials == {"bearer_token": "env:KPU_X_TOKEN"}


def test_missing_config_says_to_run_init(tmp_path):
    exc = error_of(tmp_path / "nope.toml")
    assert exc.key == "config.not_found"
    assert "planner init" in rendered(exc) and "planner init" in rendered(exc, "en")


def test_toml_syntax_error_is_a_config_error(tmp_path):
    exc = error_of(write(tmp_path / "config.toml", 'timezone = "Asia/Jakarta\n'))
    assert exc.key == "config.syntax"
    assert "line 1" in rendered(exc)


# --- literal secrets -----------------------------------------------------------------------------

def test_literal_secret_refused_when_group_or_other_can_read(tmp_path):
    path = write(tmp_path / "config.toml", X_ACCOUNT.format(value="abc123rahasia"), mode=0o644)
    exc = error_of(path)
    assert exc.key == "config.literal_secret_exposed"
    message = rendered(exc)
    assert "accounts.kpu_x.credentials.bearer_token" in message
    assert "chmod 600" in message
    assert "abc123rahasia" not in message


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_literal_secret_refused_for_group_only_or_other_only(tmp_path, mode):
    path = write(tmp_path / "config.toml", X_ACCOUNT.format(value="abc123rahasia"), mode=mode)
    assert error_of(path).key == "config.literal_secret_exposed"


def test_literal_secret_accepted_when_owner_only(tmp_path):
    config = load_config(write(tmp_path / "config.toml", X_ACCOUNT.format(value="abc123rahasia"), mode=0o600))
    assert resolve_account(config, "kpu_x").credentials == {"bearer_token": "abc123rahasia"}


def test_references_are_fine_in_a_readable_file(tmp_path):
    config = load_config(write(tmp_path / "config.toml", X_ACCOUNT.format(value="env:KPU_X_TOKEN"), mode=0o644))
    assert config.accounts["kpu_x"].credentials["bearer_token"] == "env:KPU_X_TOKEN"


# --- resolving references ------------------------------------------------------------------------

def test_env_reference_resolved_and_missing_one_names_the_variable(tmp_path, monkeypatch):
    config = load_config(write(tmp_path / "config.toml", X_ACCOUNT.format(value="env:KPU_X_TOKEN_UJI")))
    monkeypatch.delenv("KPU_X_TOKEN_UJI", raising=False)
    with pytest.raises(ConfigError) as caught:
        resolve_account(config, "kpu_x")
    assert caught.value.key == "config.secret_env_missing"
    for lang in ("id", "en"):
        message = rendered(caught.value, lang)
        assert "KPU_X_TOKEN_UJI" in message and "kpu_x" in message and "bearer_token" in message
        assert "export KPU_X_TOKEN_UJI=" in message
    monkeypatch.setenv("KPU_X_TOKEN_UJI", "nilai-rahasia")
    assert resolve_account(config, "kpu_x").credentials["bearer_token"] == "nilai-rahasia"


def test_empty_env_variable_counts_as_missing(monkeypatch):
    monkeypatch.setenv("KOSONG_UJI", "")
    with pytest.raises(ConfigError) as caught:
        resolve_secret("env:KOSONG_UJI", account="a", key="k")
    assert caught.value.key == "config.secret_env_missing"


def test_keyring_reference_without_backend_names_service_and_user():
    # Whatever keyring backend this machine has (often none), the message must name where to look.
    try:
        value = resolve_secret("keyring:humas-planner-uji/tidak-ada-pengguna", account="kpu_bluesky",
                               key="app_password")
    except ConfigError as exc:
        assert exc.key in ("config.secret_keyring_error", "config.secret_keyring_missing")
        for lang in ("id", "en"):
            message = rendered(exc, lang)
            assert "humas-planner-uji" in message and "tidak-ada-pengguna" in message
            assert "kpu_bluesky" in message
    else:  # pragma: no cover - only on a machine that really stores this entry
        pytest.fail(f"unexpected secret found: {len(value)} chars")


def _fake_keyring(monkeypatch, get_password):
    module = types.ModuleType("keyring")
    module.get_password = get_password
    monkeypatch.setitem(sys.modules, "keyring", module)


def test_keyring_backend_failure_is_a_clear_error(monkeypatch):
    def broken(service, user):
        raise RuntimeError("no backend")

    _fake_keyring(monkeypatch, broken)
    with pytest.raises(ConfigError) as caught:
        resolve_secret("keyring:layanan/pengguna", account="akun", key="app_password")
    assert caught.value.key == "config.secret_keyring_error"
    message = rendered(caught.value)
    assert "layanan" in message and "pengguna" in message and "RuntimeError" in message
    assert "env:" in message  # says what to do instead


def test_keyring_entry_missing_says_how_to_store_it(monkeypatch):
    _fake_keyring(monkeypatch, lambda service, user: None)
    with pytest.raises(ConfigError) as caught:
        resolve_secret("keyring:layanan/pengguna", account="akun", key="app_password")
    assert caught.value.key == "config.secret_keyring_missing"
    assert "keyring set layanan pengguna" in rendered(caught.value)


def test_keyring_entry_found(monkeypatch):
    _fake_keyring(monkeypatch, lambda service, user: f"{service}|{user}")
    assert resolve_secret("keyring:layanan/pengguna", account="a", key="k") == "layanan|pengguna"


def test_incomplete_credentials_named(tmp_path, monkeypatch):
    path = write(tmp_path / "config.toml", """
[accounts.kpu_x]
platform = "x"
[accounts.kpu_x.credentials]
consumer_key = "env:CK_UJI"
""")
    monkeypatch.setenv("CK_UJI", "x")
    with pytest.raises(ConfigError) as caught:
        resolve_account(load_config(path), "kpu_x")
    assert caught.value.key == "config.credentials_incomplete"
    assert "bearer_token" in rendered(caught.value)


def test_unknown_account_with_did_you_mean(tmp_path):
    config = load_config(write(tmp_path / "config.toml", X_ACCOUNT.format(value="env:A")))
    with pytest.raises(ConfigError) as caught:
        resolve_account(config, "kpu_xx")
    assert "'kpu_x'" in rendered(caught.value)


# --- unknown keys and bad values ----------------------------------------------------------------

@pytest.mark.parametrize("text, key, suggestion", [
    ('timezon = "Asia/Jakarta"\n', "timezon", "timezone"),
    ('databse = "x.db"\n', "databse", "database"),
    ('[accounts.kpu_x]\nplatform = "x"\nhandel = "x"\n', "accounts.kpu_x.handel", "handle"),
    ('[publishing]\ngrcae = "1h"\n', "publishing.grcae", "grace"),
    ('[approval]\nrequird = true\n', "approval.requird", "required"),
])
def test_unknown_key_with_did_you_mean(tmp_path, text, key, suggestion):
    exc = error_of(write(tmp_path / "config.toml", text))
    assert exc.key == "config.unknown_key"
    assert exc.params["setting"] == key
    assert f"'{suggestion}'" in rendered(exc)
    assert f"'{suggestion}'" in rendered(exc, "en")


@pytest.mark.parametrize("zone", ["Asia/Jakrta", "WIB", "Asia", "", "../etc/passwd", 7])
def test_bad_timezone(tmp_path, zone):
    value = f'"{zone}"' if isinstance(zone, str) else str(zone)
    exc = error_of(write(tmp_path / "config.toml", f"timezone = {value}\n"))
    assert exc.key == "config.bad_timezone"
    assert "Asia/Jakarta" in rendered(exc)  # says what a good value looks like


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Europe/Berlin"])
def test_good_timezones(tmp_path, zone):
    assert load_config(write(tmp_path / "config.toml", f'timezone = "{zone}"\n')).timezone.key == zone


@pytest.mark.parametrize("table", [
    'grace = "2 jam"', 'grace = ""', 'lease = "abc"', 'grace = "99999999999d"', "lease = 0",
    'lease = "0m"', "grace = -5", "grace = true", 'keep_jobs = "0d"', 'keep_jobs = "dua minggu"',
])
def test_bad_durations(tmp_path, table):
    exc = error_of(write(tmp_path / "config.toml", f"[publishing]\n{table}\n"))
    assert exc.key == "config.bad_duration"
    assert '"2h"' in rendered(exc)


def test_zero_grace_is_allowed(tmp_path):
    assert load_config(write(tmp_path / "config.toml", '[publishing]\ngrace = "0m"\n')).grace == timedelta(0)


@pytest.mark.parametrize("text, expected", [
    ("2h", timedelta(hours=2)), ("30m", timedelta(minutes=30)), ("30min", timedelta(minutes=30)),
    ("1d12h", timedelta(days=1, hours=12)), ("45s", timedelta(seconds=45)), (" 1d 2h 3m 4s ", timedelta(
        days=1, hours=2, minutes=3, seconds=4)), (90, timedelta(seconds=90)), (1.5, timedelta(seconds=1.5)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", " ", "h", "2x", "2 jam", "1h2d", True, "-1h", "99999999999999d",
                                  10 ** 30])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("value", ["0", "257", '"8"', "true", "2.5"])
def test_bad_workers(tmp_path, value):
    assert error_of(write(tmp_path / "config.toml", f"[publishing]\nworkers = {value}\n")).key == "config.bad_workers"


def test_bad_language(tmp_path):
    assert error_of(write(tmp_path / "config.toml", 'language = "jv"\n')).key == "config.bad_language"


@pytest.mark.parametrize("text, key", [
    ('[accounts.a]\nplatform = "tiktok"\n', "config.bad_platform"),
    ('[accounts.a]\nplatform = "facebook"\n', "config.missing_option"),
    ('[accounts.a]\nplatform = "mastodon"\n', "config.missing_option"),
    ('[accounts.a]\nplatform = "x"\ncredentials = "env:X"\n', "config.bad_credentials"),
    ('accounts = { a = 5 }\n', "config.account_not_table"),
])
def test_bad_accounts(tmp_path, text, key):
    assert error_of(write(tmp_path / "config.toml", text)).key == key


@pytest.mark.parametrize("text", ['publishing = "fast"\n', 'approval = 1\n', 'accounts = "x"\n'])
def test_wrong_table_types_are_config_errors_not_crashes(tmp_path, text):
    assert isinstance(error_of(write(tmp_path / "config.toml", text)), ConfigError)


def test_every_config_error_renders_without_unfilled_placeholders(tmp_path):
    cases = ['timezon = 1\n', 'timezone = "X/Y"\n', 'language = "jv"\n', '[publishing]\ngrace = "x"\n',
             '[publishing]\nworkers = 0\n', '[accounts.a]\nplatform = "tiktok"\n',
             '[accounts.a]\nplatform = "facebook"\n', X_ACCOUNT.format(value="lit")]
    for i, text in enumerate(cases):
        path = write(tmp_path / f"c{i}.toml", text, mode=0o644)
        exc = error_of(path)
        for lang in ("id", "en"):
            message = rendered(exc, lang)
            assert "{" not in message, (text, message)


def test_config_file_not_readable_is_an_error(tmp_path):
    if os.geteuid() == 0:
        path = tmp_path / "config.toml"
        path.mkdir()  # root reads anything; a directory still cannot be read as text
    else:
        path = write(tmp_path / "config.toml", "", mode=0o000)
    assert error_of(path).key == "config.unreadable"
