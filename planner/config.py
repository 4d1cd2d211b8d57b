"""config.toml: where it is, what it says, and how secret references are resolved.

Secrets are never stored in the config as values if we can help it: credentials are
references (``env:VAR_NAME`` or ``keyring:service/user``) resolved only when an adapter
is built, and never written anywhere else.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from planner.domain.campaign import Blackout  # noqa: F401  (part of the config model)
from planner.errors import PlannerError

CONFIG_ENV = "PLANNER_CONFIG"
# A PostgreSQL URL here (or in `database` of config.toml) puts the store on PostgreSQL (planner/store/postgres.py).
DATABASE_URL_ENV = "PLANNER_DATABASE_URL"
POSTGRES_URL_SCHEMES = ("postgresql", "postgres")
DEFAULT_CONFIG_NAME = "config.toml"
PLATFORMS = ("x", "facebook", "instagram", "mastodon", "bluesky", "telegram")

# Credential names each platform needs (any one complete set).
CREDENTIAL_SETS: dict[str, tuple[tuple[str, ...], ...]] = {
    "x": (("bearer_token",), ("consumer_key", "consumer_secret", "access_token", "access_token_secret")),
    "facebook": (("page_access_token",),),
    "instagram": (("access_token",),),
    "mastodon": (("access_token",),),
    "bluesky": (("app_password",),),
    "telegram": (("bot_token",),),
}
# Options (non-secret) each platform needs.
REQUIRED_OPTIONS: dict[str, tuple[str, ...]] = {
    "facebook": ("page_id",),
    "instagram": ("ig_user_id",),
    "telegram": ("chat_id",),
    "mastodon": ("api_base_url",),
}

_ACCOUNT_KEYS = {"platform", "handle", "api_base_url", "credentials", "page_id", "ig_user_id",
                 "media_base_url", "chat_id", "display_name", "slots", "utm"}
_TOP_KEYS = {"database", "timezone", "language", "campaigns_dir", "reports_dir", "approval", "publishing",
             "accounts", "users", "user", "blackout", "alerts", "utm", "backup", "costs"}
ROLES = ("staff", "approver", "admin")
# Tables whose keys are known (the others are read by parts of the tool that check them).
_TABLE_KEYS = {"publishing": {"grace", "workers", "lease", "pacing", "keep_jobs"},
               "approval": {"required", "identity"},
               "alerts": {"telegram_account", "chat_id", "token_expiry_days"}, "backup": {"dir", "keep", "every"},
               "costs": {"x"}}  # [costs.x]: planner.platforms.x_cost
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")


class ConfigError(PlannerError):
    pass


def parse_duration(text: str | int | float) -> timedelta:
    """'2h', '30m', '1d12h', '45s' or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        try:
            return timedelta(seconds=text)
        except OverflowError:
            raise ValueError(text) from None
    match = _DURATION.match(str(text)) if str(text).strip() else None
    if not match or not any(match.groups()):
        raise ValueError(text)
    d, h, m, s = (int(g or 0) for g in match.groups())
    try:
        return timedelta(days=d, hours=h, minutes=m, seconds=s)
    except OverflowError:
        raise ValueError(text) from None


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: "Asia" is a folder
        raise ValueError(name) from None


@dataclass(frozen=True)
class AccountConfig:
    name: str
    platform: str
    handle: str = ""
    api_base_url: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)  # name -> reference (or literal)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pacing:
    rate: float = 1.0        # posts per second per account, sustained
    burst: int = 5           # posts an account may send back to back
    max_in_flight: int = 2   # concurrent sends per account


@dataclass(frozen=True)
class User:
    name: str
    role: str = "staff"           # staff: drafts; approver: approves others' content; admin: also overrides
    display_name: str = ""
    os_user: str | None = None    # the operating-system account that acts as this user (identity = "os")
    telegram_id: int | None = None  # this user's Telegram id: their taps on the staff chat's buttons count


def is_postgres_url(value: object) -> bool:
    from urllib.parse import urlsplit

    return isinstance(value, str) and urlsplit(value.strip()).scheme.lower() in POSTGRES_URL_SCHEMES


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path
    timezone: ZoneInfo
    language: str = "id"
    campaigns_dir: Path = Path("campaigns")
    reports_dir: Path = Path("reports")
    backup_dir: Path = Path("backups")
    backup_keep: int = 14
    backup_every: timedelta | None = timedelta(hours=24)  # None: `planner run` makes no backups
    approval_required: bool = False
    grace: timedelta = timedelta(hours=2)
    workers: int = 8
    lease: timedelta = timedelta(minutes=2)
    keep_jobs: timedelta = timedelta(days=14)   # PostgreSQL workers: finished procrastinate jobs kept this long
    accounts: dict[str, AccountConfig] = field(default_factory=dict)
    pacing: Pacing = Pacing()
    blackouts: tuple[Blackout, ...] = ()
    users: dict[str, User] = field(default_factory=dict)
    default_user: str | None = None   # the acting user when --as is not given (else the OS user)
    # "os": who acts is the operating-system account, through [users] os_user (or a user named like an OS
    # account); --as is refused. "declared": --as / `user` name who acts: a label, recorded beside the OS user.
    identity: str = "declared"
    raw: dict = field(default_factory=dict, repr=False)
    # PostgreSQL instead of the SQLite file at `database` (PLANNER_DATABASE_URL, or a URL as `database`).
    database_url: str | None = field(default=None, repr=False)  # may carry a password

    def acting_user(self, claimed: str | None, os_user: str) -> str:
        """Who is acting, given the name claimed with --as and the operating-system account running us."""
        if self.identity == "os":
            bound = next((u.name for u in self.users.values() if u.os_user == os_user), os_user)
            if claimed is not None and claimed != bound:
                raise ConfigError("identity.as_refused", claimed=claimed, os_user=os_user, user=bound)
            return bound
        return claimed or self.default_user or os_user

    def role_of(self, user: str) -> str:
        """Users not listed are staff: they can draft, never approve."""
        return self.users[user].role if user in self.users else "staff"

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def find_config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_config(path: Path) -> Config:
    """Read and check config.toml; every problem becomes a ConfigError that says what to do."""
    if not path.exists():
        raise ConfigError("config.not_found", path=str(path))
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config.unreadable", path=str(path), error=type(exc).__name__) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config.syntax", path=str(path), error=str(exc)) from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> Config:
    path = path.resolve()
    base = path.parent
    for key in raw:
        if key not in _TOP_KEYS:
            raise ConfigError("config.unknown_key", path=str(path), setting=key,
                              hint=did_you_mean(key, _TOP_KEYS))
    for table_name, allowed in _TABLE_KEYS.items():
        table = raw.get(table_name, {})
        if not isinstance(table, dict):
            raise ConfigError("config.not_table", path=str(path), where=table_name)
        for key in table:
            if key not in allowed:
                raise ConfigError("config.unknown_key", path=str(path), setting=f"{table_name}.{key}",
                                  hint=did_you_mean(key, allowed))
    try:
        zone = load_zone(raw.get("timezone", "Asia/Jakarta"))
    except ValueError:
        raise ConfigError("config.bad_timezone", path=str(path), value=raw.get("timezone")) from None
    language = raw.get("language", "id")
    if language not in ("id", "en"):
        raise ConfigError("config.bad_language", path=str(path), value=language)
    publishing = raw.get("publishing", {})
    try:
        grace = parse_duration(publishing.get("grace", "2h"))
        lease = parse_duration(publishing.get("lease", "2m"))
        keep_jobs = parse_duration(publishing.get("keep_jobs", "14d"))
        if grace < timedelta(0):
            raise ValueError(publishing.get("grace"))
        if lease <= timedelta(0):
            raise ValueError(publishing.get("lease"))
        if keep_jobs <= timedelta(0):
            raise ValueError(publishing.get("keep_jobs"))
    except ValueError as exc:
        raise ConfigError("config.bad_duration", path=str(path), value=str(exc)) from None
    workers = publishing.get("workers", 8)
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 256:
        raise ConfigError("config.bad_workers", path=str(path), value=workers)
    if not isinstance(raw.get("accounts", {}), dict):
        raise ConfigError("config.not_table", path=str(path), where="accounts")
    accounts = {name: _parse_account(name, table, path) for name, table in raw.get("accounts", {}).items()}
    pacing = _parse_pacing(publishing.get("pacing", {}), path)
    blackouts = tuple(_parse_blackout(i, entry, zone, path) for i, entry in enumerate(raw.get("blackout", []), 1))
    _refuse_exposed_literal_secrets(accounts, path)
    users = _parse_users(raw.get("users", {}), path)
    _check_utm(raw.get("utm"), path)
    alert_account = raw.get("alerts", {}).get("telegram_account")
    if alert_account is not None and (alert_account not in accounts or accounts[alert_account].platform != "telegram"
                                      or not raw["alerts"].get("chat_id")):
        raise ConfigError("config.bad_alerts", path=str(path), value=alert_account)
    expiry_days = raw.get("alerts", {}).get("token_expiry_days", 7)
    if not isinstance(expiry_days, int) or isinstance(expiry_days, bool) or not 0 <= expiry_days <= 365:
        raise ConfigError("config.bad_expiry_days", path=str(path), value=expiry_days)
    backup_dir, backup_keep, backup_every = _parse_backup(raw.get("backup", {}), base, path)
    default_user = raw.get("user")
    if default_user is not None and (not isinstance(default_user, str) or not default_user.strip()):
        raise ConfigError("config.bad_user", path=str(path))
    identity = _parse_identity(raw.get("approval", {}), users, path)
    for key in ("database", "campaigns_dir", "reports_dir"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise ConfigError("config.bad_path_value", path=str(path), key=key, value=raw[key])
    database_url = _database_url(raw.get("database"), path)
    # With PostgreSQL, `database` still names where the file companions go (scheduler lock, audit head).
    return Config(
        path=path,
        database=(base / ("planner.db" if database_url and is_postgres_url(raw.get("database"))
                          else raw.get("database", "planner.db"))),
        database_url=database_url,
        timezone=zone,
        language=language,
        campaigns_dir=base / raw.get("campaigns_dir", "campaigns"),
        reports_dir=base / raw.get("reports_dir", "reports"),
        backup_dir=backup_dir,
        backup_keep=backup_keep,
        backup_every=backup_every,
        approval_required=bool(raw.get("approval", {}).get("required", False)),
        grace=grace,
        workers=workers,
        lease=lease,
        keep_jobs=keep_jobs,
        accounts=accounts,
        pacing=pacing,
        blackouts=blackouts,
        users=users,
        default_user=default_user,
        identity=identity,
        raw=raw,
    )


def _database_url(value: Any, path: Path) -> str | None:
    """The PostgreSQL URL in force: PLANNER_DATABASE_URL, else a URL given as `database`; None for SQLite.

    A password belongs in PLANNER_DATABASE_URL, ~/.pgpass or PGPASSWORD: in config.toml only while the file
    is private to its owner, as with literal account secrets. store/postgres.py never shows it."""
    from urllib.parse import urlsplit

    env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if env:
        if not is_postgres_url(env):
            raise ConfigError("postgres.bad_env_url", env=DATABASE_URL_ENV)
        url = env
    elif is_postgres_url(value):
        url = value.strip()
        try:
            has_password = urlsplit(url).password is not None
        except ValueError:
            has_password = False
        if has_password and os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError("postgres.password_exposed", path=str(path))
    else:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError:
        raise ConfigError("postgres.bad_url", path=str(path)) from None
    return url


def _parse_backup(table: Any, base: Path, path: Path) -> tuple[Path, int, timedelta | None]:
    """[backup] dir (next to this file by default), keep (newest copies kept), every ("0" = off)."""
    if not isinstance(table, dict):
        raise ConfigError("config.not_table", path=str(path), where="backup")
    keep = table.get("keep", 14)
    if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= 1000:
        raise ConfigError("config.bad_backup_keep", path=str(path), value=keep)
    every_text = table.get("every", "24h")
    if every_text in (0, "0", "off"):
        every_text = 0
    try:
        every = parse_duration(every_text)
    except ValueError as exc:
        raise ConfigError("config.bad_duration", path=str(path), value=str(exc)) from None
    directory = table.get("dir", "backups")
    if not isinstance(directory, str) or not directory.strip():
        raise ConfigError("config.bad_backup_dir", path=str(path), value=directory)
    return base / directory, keep, every if every > timedelta(0) else None


def _parse_users(table: Any, path: Path) -> dict[str, User]:
    if not isinstance(table, dict):
        raise ConfigError("config.not_table", path=str(path), where="users")
    users = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or set(entry) - {"role", "name", "os_user", "telegram_id"}:
            raise ConfigError("config.bad_user_entry", path=str(path), user=name, roles=", ".join(ROLES))
        role = entry.get("role", "staff")
        if role not in ROLES:
            raise ConfigError("config.bad_role", path=str(path), user=name, value=role, roles=", ".join(ROLES))
        os_user = entry.get("os_user")
        if os_user is not None and (not isinstance(os_user, str) or not os_user.strip()):
            raise ConfigError("config.bad_os_user", path=str(path), user=name)
        if os_user is None and _is_os_account(name):
            os_user = name  # [users] names an OS account: that account, and only it, acts as this user
        telegram_id = entry.get("telegram_id")
        if telegram_id is not None and (isinstance(telegram_id, bool) or not isinstance(telegram_id, int)):
            raise ConfigError("config.bad_user_entry", path=str(path), user=name, roles=", ".join(ROLES))
        users[name] = User(name=name, role=role, display_name=str(entry.get("name", "")), os_user=os_user,
                           telegram_id=telegram_id)
    bound = [u.os_user for u in users.values() if u.os_user]
    if len(bound) != len(set(bound)):
        raise ConfigError("config.os_user_twice", path=str(path))
    telegram_ids = [u.telegram_id for u in users.values() if u.telegram_id is not None]
    if len(telegram_ids) != len(set(telegram_ids)):  # one tap must name one person
        raise ConfigError("config.telegram_id_twice", path=str(path))
    return users


def _is_os_account(name: str) -> bool:
    try:
        import pwd

        pwd.getpwnam(name)
        return True
    except (ImportError, KeyError):
        return False


def _parse_identity(approval: Any, users: dict[str, User], path: Path) -> str:
    """[approval] identity: "os" by default when [users] is tied to OS accounts, else "declared"."""
    value = approval.get("identity") if isinstance(approval, dict) else None
    if value is None:
        return "os" if any(u.os_user for u in users.values()) else "declared"
    if value not in ("os", "declared"):
        raise ConfigError("config.bad_identity", path=str(path), value=value)
    if value == "os" and not any(u.os_user for u in users.values()):
        raise ConfigError("config.identity_unbound", path=str(path))
    return value


def _check_slots(slots: Any, where: str, path: Path) -> None:
    if slots is None:
        return
    from planner.domain.slots import parse_slot

    if not isinstance(slots, list) or not slots:
        raise ConfigError("config.bad_slot", path=str(path), where=where, value=slots)
    for spec in slots:
        try:
            parse_slot(spec if isinstance(spec, str) else "")
        except ValueError:
            raise ConfigError("config.bad_slot", path=str(path), where=where, value=spec) from None


def _check_utm(table: Any, path: Path) -> None:
    from planner.domain.links import UTM_FIELDS

    if table is None:
        return
    if not isinstance(table, dict) or not table:
        raise ConfigError("config.bad_utm", path=str(path))
    for key, value in table.items():
        try:
            if key not in UTM_FIELDS or not isinstance(value, str) or not value:
                raise KeyError
            value.format(platform="", campaign="", content="")
        except (KeyError, IndexError, ValueError):
            raise ConfigError("config.bad_utm", path=str(path)) from None


def _parse_pacing(table: Any, path: Path) -> Pacing:
    try:
        pacing = Pacing(**table)
        if pacing.rate <= 0 or pacing.burst < 1 or pacing.max_in_flight < 1:
            raise ValueError
        return pacing
    except (TypeError, ValueError):
        raise ConfigError("config.bad_pacing", path=str(path)) from None


def _parse_blackout(index: int, entry: Any, zone: ZoneInfo, path: Path) -> Blackout:
    where = f"blackout[{index}]"
    try:
        start, end = entry["start"], entry["end"]
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        if isinstance(end, str):
            end = datetime.fromisoformat(end)
        start = start if start.tzinfo else start.replace(tzinfo=zone)
        end = end if end.tzinfo else end.replace(tzinfo=zone)
        if end <= start:
            raise ValueError
        channels = tuple(entry.get("channels", ()))
        return Blackout(start=start.astimezone(timezone.utc), end=end.astimezone(timezone.utc),
                        reason=str(entry.get("reason", "")), channels=channels)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError("config.bad_blackout", path=str(path), where=where) from None


def _parse_account(name: str, table: Any, path: Path) -> AccountConfig:
    where = f"accounts.{name}"
    if not isinstance(table, dict):
        raise ConfigError("config.account_not_table", path=str(path), where=where)
    for key in table:
        if key not in _ACCOUNT_KEYS:
            raise ConfigError("config.unknown_key", path=str(path), setting=f"{where}.{key}",
                              hint=did_you_mean(key, _ACCOUNT_KEYS))
    platform = table.get("platform")
    if platform not in PLATFORMS:
        raise ConfigError("config.bad_platform", path=str(path), where=where, value=platform,
                          choices=", ".join(PLATFORMS))
    credentials = table.get("credentials", {})
    if not isinstance(credentials, dict) or not all(isinstance(v, str) for v in credentials.values()):
        raise ConfigError("config.bad_credentials", path=str(path), where=f"{where}.credentials")
    options = {k: v for k, v in table.items() if k not in ("platform", "handle", "api_base_url", "credentials")}
    for option in REQUIRED_OPTIONS.get(platform, ()):
        if option != "api_base_url" and not options.get(option):
            raise ConfigError("config.missing_option", path=str(path), where=where, option=option)
    if "api_base_url" in REQUIRED_OPTIONS.get(platform, ()) and not table.get("api_base_url"):
        raise ConfigError("config.missing_option", path=str(path), where=where, option="api_base_url")
    if "api_base_url" in table:
        from planner.domain.endpoints import check_base_url, shown

        problem = check_base_url(table["api_base_url"])  # tokens never go in clear to another machine
        if problem:
            raise ConfigError(problem, account=name, url=shown(table["api_base_url"]))
    _check_slots(options.get("slots"), f"{where}.slots", path)
    return AccountConfig(name=name, platform=platform, handle=str(table.get("handle", "")),
                         api_base_url=table.get("api_base_url"), credentials=dict(credentials), options=options)


def is_reference(value: str) -> bool:
    return value.startswith(("env:", "keyring:", "secrets:"))


def _refuse_exposed_literal_secrets(accounts: dict[str, AccountConfig], path: Path) -> None:
    for account in accounts.values():  # a literal token is known now: refused before anything uses it
        if account.platform == "instagram" and not is_reference(account.credentials.get("access_token", "env:")):
            refuse_instagram_login_token(account.name, account.credentials["access_token"])
    literal = [f"accounts.{a.name}.credentials.{k}" for a in accounts.values()
               for k, v in a.credentials.items() if not is_reference(v)]
    if not literal:
        return
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError("config.literal_secret_exposed", path=str(path), where=", ".join(literal))


def refuse_instagram_login_token(account: str, token: str | None) -> None:
    """A token of "Instagram API with Instagram Login" (graph.instagram.com; Instagram User tokens begin with
    "IG") is not used: it does not open graph.facebook.com and it runs out after 60 days. The account is
    connected with Facebook Login instead, whose Page token serves Instagram and does not expire."""
    if token and token.strip().startswith("IG"):
        raise ConfigError("config.instagram_login_token", account=account)


def did_you_mean(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else ""
