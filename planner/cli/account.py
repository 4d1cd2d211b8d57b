"""`planner account add|list|check`. Secrets are only ever written as references."""

from __future__ import annotations

import re

import typer

from planner.cli.common import EXIT_PROBLEMS, console, esc, fail, load_config, options
from planner.i18n import t

app = typer.Typer(no_args_is_help=True)

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _default_reference(account: str, key: str) -> str:
    return "env:HUMAS_" + re.sub(r"[^A-Z0-9]", "_", f"{account}_{key}".upper())


@app.command("add", help=t("help.account_add"))
def add(
    name: str = typer.Argument(..., help=t("help.account_name")),
    platform: str = typer.Option(..., "--platform", help=t("help.opt_platform")),
    handle: str = typer.Option("", "--handle", help=t("help.opt_handle")),
    api_base_url: str = typer.Option(None, "--api-base-url", help=t("help.opt_api_base_url")),
    credential: list[str] = typer.Option(None, "--credential", help=t("help.opt_credential")),
    option: list[str] = typer.Option(None, "--option", help=t("help.opt_option")),
    force: bool = typer.Option(False, "--force", help=t("help.account_force")),
) -> None:
    import tomlkit

    from planner.config import CREDENTIAL_SETS, PLATFORMS, REQUIRED_OPTIONS, find_config_path, is_reference
    from planner.config import load_config as read_config
    from planner.errors import PlannerError

    if not NAME.match(name):
        fail(t("account.bad_name", value=name))
    if platform not in PLATFORMS:
        fail(t("account.bad_platform", value=platform, choices=", ".join(PLATFORMS)))
    path = find_config_path(options.config)
    if not path.exists():
        fail(t("config.not_found", path=str(path)))
    document = tomlkit.parse(path.read_text("utf-8"))
    accounts = document.setdefault("accounts", tomlkit.table(is_super_table=True))
    if name in accounts and not force:
        fail(t("account.exists", name=name))

    # --force replaces what is given and keeps the rest of an account on the same platform (slots, page_id,
    # credentials, comments...): only a change of platform starts the account afresh.
    existing = accounts.get(name)
    keep = existing is not None and existing.get("platform") == platform
    credentials: dict[str, str] = {}
    for item in credential or []:
        key, sep, reference = item.partition("=")
        if not sep:
            reference = _default_reference(name, key)
        if not is_reference(reference):
            fail(t("account.literal_refused", key=key, example=_default_reference(name, key)))
        credentials[key.strip()] = reference.strip()
    old_creds = existing.get("credentials") if keep else None
    if not isinstance(old_creds, dict):
        old_creds = None
    if not credentials and old_creds:
        credentials = {key: str(value) for key, value in old_creds.items()}
    elif not credentials:
        first_set = CREDENTIAL_SETS[platform][0]
        credentials = {key: _default_reference(name, key) for key in first_set}
    if platform == "instagram" and credentials.get("access_token"):  # an Instagram Login token, already set?
        from planner.accounts.resolve import resolve_secret
        from planner.config import refuse_instagram_login_token

        try:
            refuse_instagram_login_token(name, resolve_secret(credentials["access_token"], account=name,
                                                              key="access_token", config_path=path))
        except PlannerError as exc:
            if getattr(exc, "key", "") == "config.instagram_login_token":
                fail(exc.render())
            # not set yet (env variable, keyring entry): `account check` refuses it once it is
    if old_creds is not None:  # changed in place: the table keeps its place and comments in the file
        creds = old_creds
        for key in [k for k in creds if k not in credentials]:
            del creds[key]
    else:
        creds = tomlkit.table()
    for key, reference in credentials.items():
        if creds.get(key) != reference:
            creds[key] = reference
    table = existing if keep else tomlkit.table()
    table["platform"] = platform
    if handle:
        table["handle"] = handle
    if api_base_url:
        table["api_base_url"] = api_base_url
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(t("account.bad_option", value=item))
        table[key.strip()] = value.strip()
    missing = [o for o in REQUIRED_OPTIONS.get(platform, ()) if o not in table]
    if missing:
        fail(t("account.missing_options", platform=platform, options=", ".join(missing)))
    if old_creds is None:
        table["credentials"] = creds
    if not keep:
        accounts[name] = table

    new_text = tomlkit.dumps(document)
    try:  # check the result before replacing the file: never leave a broken config behind
        import tomllib

        from planner.config import parse_config

        parse_config(tomllib.loads(new_text), path)
    except PlannerError as exc:
        fail(exc.render())
    import os

    tmp = path.with_name(path.name + ".tmp")
    # Created owner-only (the config may hold a literal secret), then given the config's own mode.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_text)
    tmp.chmod(path.stat().st_mode & 0o777)
    tmp.replace(path)
    _audit_account_change(path, name, platform, list(credentials))
    console().print(t("account_update.updated" if existing is not None else "account.added", name=name,
                      platform=platform))
    for key, reference in credentials.items():
        console().print(esc(f"  {key} = {reference}"))
    console().print(t("account.set_secrets_hint"))
    read_config(path)


def _audit_account_change(config_path, name: str, platform: str, credential_names: list[str]) -> None:
    """Record the change in the audit log when the workspace has a database (references only, never secrets)."""
    from planner.config import load_config as read_config
    from planner.errors import PlannerError
    from planner.store import audit
    from planner import clock
    from planner.store.backend import database_present, open_configured
    from planner.store.db import transaction, utc_iso

    try:
        config = read_config(config_path)
        if not database_present(config):
            return
        db = open_configured(config)
    except PlannerError:
        return
    from planner.cli.common import actor_name

    with transaction(db) as conn:
        audit.record(conn, at=utc_iso(clock.now()), actor=actor_name(config), action="account.add",
                     subject=f"account:{name}", detail={"platform": platform, "credentials": credential_names})


@app.command("list", help=t("help.account_list"))
def list_accounts() -> None:
    from rich.table import Table

    config = load_config()
    if not config.accounts:
        console().print(t("account.none"))
        return
    table = Table(box=None)
    for column in ("name", "platform", "handle", "api", "credentials"):
        table.add_column(t(f"account.col_{column}"))
    for account in config.accounts.values():
        refs = ", ".join(f"{k}={v if v.startswith(('env:', 'keyring:')) else '***'}"
                         for k, v in account.credentials.items())
        table.add_row(esc(account.name), account.platform, esc(account.handle), esc(account.api_base_url or "-"),
                      esc(refs))
    console().print(table)


@app.command("check", help=t("help.account_check"))
def check(name: str = typer.Argument(None, help=t("help.account_name"))) -> None:
    from planner.accounts.resolve import resolve_account
    from planner.errors import PlannerError
    from planner.platforms import make_adapter
    from planner.platforms.base import PlatformError
    from planner.platforms.endpoints import is_sandbox, shown
    from planner.platforms.redaction import register_secrets, safe_error

    config = load_config()
    names = [name] if name else list(config.accounts)
    if name and name not in config.accounts:
        fail(t("config.unknown_account", account=name, hint=""))
    out = console()
    failures = 0
    for account_name in names:
        try:
            account = resolve_account(config, account_name)
            register_secrets(account.secret_values())
            # make_adapter refuses an api_base_url the token must not be sent to (endpoints.check_base_url)
            status = make_adapter(account).check_credentials()
        except PlannerError as exc:
            failures += 1
            out.print(f"[red]✗[/] {account_name}: {esc(exc.render())}")
            continue
        except PlatformError as exc:
            failures += 1
            from planner.i18n.platform_errors import say

            out.print(f"[red]✗[/] {account_name}: {esc(say(safe_error(exc.message)))}")
            continue
        said = describe_rate_limit(status.rate_limit, config.timezone)
        limit = f" · {t('account.rate_limit')}: {said}" if said else ""
        out.print(f"[green]✓[/] {account_name}: {esc(t('account.posting_as', name=status.display_name, handle=status.handle.lstrip('@')))}{esc(limit)}")
        if status.text_limit is not None:  # the platform's own limit (a Mastodon instance's), for validation
            from planner import clock
            from planner.store.backend import database_of
            from planner.store.text_limits import remember_in

            kept = remember_in(database_of(config), account_name, status.text_limit, now=clock.now())
            out.print(f"  {esc(t('account.text_limit' if kept else 'account.text_limit_unsaved', limit=status.text_limit))}")
        other = _other_handle(account, status.handle)
        if other:  # the token opens another account than the one config.toml names: say both
            out.print(f"[yellow]![/] {esc(t('account.handle_differs', account=account_name, configured=account.handle.lstrip('@'), actual=other))}")
        from planner.cli.account_connect import release_after_check, token_state_lines

        for line in token_state_lines(config, account):
            out.print(f"  {esc(line)}")
        released = release_after_check(config, account_name)  # working again: held posts go back to the queue
        if released:
            out.print(f"  {esc(t('token.released', count=released))}")
        if is_sandbox(account.api_base_url):  # posts sent there never appear in public: say so
            note = t("endpoint.sandbox", account=account_name, url=shown(account.api_base_url))
            out.print(f"[yellow]![/] {esc(note)}")
    if failures:
        raise typer.Exit(EXIT_PROBLEMS)


# Platforms whose check answers with the account's own @name. Telegram answers with the bot (the channel is
# chat_id) and Facebook with the Page's numeric id, so neither can be held against `handle`.
_HANDLE_PLATFORMS = ("x", "instagram", "mastodon", "bluesky")


def _other_handle(account, actual: str | None) -> str | None:
    """The @name we post as, when it is not the configured handle (case aside; Mastodon's @server aside)."""
    if account.platform not in _HANDLE_PLATFORMS or not account.handle or not actual:
        return None
    def bare(handle: str) -> str:
        handle = handle.strip().lstrip("@").casefold()
        return handle.split("@", 1)[0] if account.platform == "mastodon" else handle
    return None if bare(account.handle) == bare(actual) else actual.strip().lstrip("@")


def describe_rate_limit(rate, zone) -> str | None:
    """A platform's rate-limit figures in the user's words, times in the user's zone."""
    from planner.i18n.dates import format_moment, format_number

    if rate is None:
        return None
    parts = []
    if rate.remaining is not None and rate.limit is not None:
        left = t("account.requests_left", remaining=format_number(rate.remaining), limit=format_number(rate.limit))
        if rate.resets_at is not None:
            left += t("account.window_resets", time=format_moment(rate.resets_at, zone))
        parts.append(left)
    if rate.usage_percent is not None:
        parts.append(t("account.quota_used", percent=f"{rate.usage_percent:g}"))
    if rate.published is not None:
        parts.append(t("account.publish_quota", published=format_number(rate.published),
                       quota=format_number(rate.quota) if rate.quota is not None else "?",
                       hours=f"{rate.window_hours or 24:g}"))
    return "; ".join(parts) or None


from planner.cli import account_connect as _account_connect  # noqa: E402,F401  (registers `account connect`)
