"""`planner account connect NAME [--platform P]`: connect an account interactively, end with a verified
account in config.toml (references only) and its secrets in the secrets store."""

from __future__ import annotations

import os
import sys
import threading
import time

import typer

from planner import clock
from planner.cli.account import NAME, app
from planner.cli.common import console, esc, fail, load_config, options
from planner.i18n import t

CONNECTABLE = ("x", "telegram", "bluesky", "mastodon", "facebook", "instagram")
WAIT_SECONDS = 600


@app.command("connect", help=t("help.account_connect"))
def connect(
    name: str = typer.Argument(..., help=t("help.account_name")),
    platform: str = typer.Option(None, "--platform", help=t("help.opt_platform")),
    handle: str = typer.Option("", "--handle", help=t("help.opt_handle")),
    api_base_url: str = typer.Option(None, "--api-base-url", help=t("help.opt_api_base_url")),
    client_id: str = typer.Option(None, "--client-id", help=t("help.opt_client_id")),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help=t("help.opt_callback_port")),
    chat_id: str = typer.Option(None, "--chat-id", help=t("help.opt_chat_id")),
    page_id: str = typer.Option(None, "--page-id", help=t("help.opt_page_id")),
    no_browser: bool = typer.Option(False, "--no-browser", help=t("help.opt_no_browser")),
) -> None:
    from planner.errors import PlannerError

    if not NAME.match(name):
        fail(t("account.bad_name", value=name))
    config = load_config()
    existing = config.accounts.get(name)
    platform = platform or (existing.platform if existing else None)
    if platform is None:
        fail(t("connect.platform_needed", name=name))
    if platform not in CONNECTABLE:
        fail(t("connect.not_yet", platform=platform, name=name))
    api_base_url = api_base_url or (existing.api_base_url if existing and existing.platform == platform else None)
    if api_base_url:
        from planner.platforms.endpoints import check_base_url, shown

        problem = check_base_url(api_base_url)
        if problem:
            fail(t(problem, account=name, url=shown(api_base_url)))
    handle = handle or (existing.handle if existing and existing.platform == platform else "")
    try:
        if platform in ("facebook", "instagram"):
            page_id = page_id or (existing.options.get("page_id") if existing and existing.platform == platform
                                  else None)
            _connect_facebook(config, name, platform, api_base_url=api_base_url, client_id=client_id, port=port,
                              page_id=page_id, open_browser=not no_browser)
        elif platform == "mastodon":
            _connect_mastodon(config, name, handle=handle, api_base_url=api_base_url, port=port,
                              open_browser=not no_browser)
        elif platform == "bluesky":
            _connect_bluesky(config, name, handle=handle, api_base_url=api_base_url)
        elif platform == "telegram":
            chat_id = chat_id or (existing.options.get("chat_id") if existing and existing.platform == platform
                                  else None)
            _connect_telegram(config, name, handle=handle, api_base_url=api_base_url, chat_id=chat_id)
        else:
            _connect_x(config, name, handle=handle, api_base_url=api_base_url, client_id=client_id, port=port,
                       open_browser=not no_browser)
    except PlannerError as exc:
        fail(exc.render())
    except KeyboardInterrupt:
        fail(t("connect.interrupted", name=name))


def _connect_x(config, name: str, *, handle: str, api_base_url: str | None, client_id: str | None, port: int,
               open_browser: bool) -> None:
    from planner.accounts import connect_x
    from planner.accounts.config_write import write_account
    from planner.accounts.secrets import SecretStore
    from planner.platforms.redaction import register_secrets

    out = console()
    store = SecretStore(config.path)
    stored = store.record(name)
    # The app's client id (and secret, for a confidential client) are asked once, then kept.
    client_id = client_id or stored.get("client_id") or typer.prompt(t("connect.x_client_id")).strip()
    if "client_secret" in stored or stored.get("client_kind") == "public":
        client_secret = stored.get("client_secret") or None
    else:
        client_secret = _secret_prompt(t("connect.x_client_secret"), allow_empty=True).strip() or None
    if client_secret:
        register_secrets([client_secret])
    auth = connect_x.start(client_id, api_base_url=api_base_url, port=port)
    code = _browser_consent(auth, port, open_browser, name, t("connect.x_open", callback=auth.redirect_uri))
    body = connect_x.exchange(code, auth, client_secret, api_base_url=api_base_url)
    register_secrets([body["access_token"], body["refresh_token"]])
    lifetime = float(body.get("expires_in") or 7200)
    references = store.save(name, {
        "refresh_token": body["refresh_token"],
        "access_token": body["access_token"],
        "expires_at": f"{time.time() + lifetime:.0f}",
        "lifetime": f"{lifetime:.0f}",
        "scope": body.get("scope", ""),
        "client_id": client_id,
        "client_secret": client_secret,
        "client_kind": "confidential" if client_secret else "public",
    })
    me = connect_x.whoami(body["access_token"], api_base_url=api_base_url)
    if handle and handle.lstrip("@").casefold() != str(me.get("username", "")).casefold():
        out.print(f"[yellow]![/] {esc(t('connect.handle_differs', configured=handle, actual=me.get('username')))}")
    credentials = {"bearer_token": references["access_token"], "refresh_token": references["refresh_token"],
                   "client_id": references["client_id"]}
    if client_secret:
        credentials["client_secret"] = references["client_secret"]
    existed = write_account(config.path, name, "x", credentials=credentials,
                            options={"handle": handle or me.get("username", ""), "api_base_url": api_base_url})
    released = _after_connect(config, name, "x", existed)
    out.print(f"[green]✓[/] {esc(t('connect.connected', name=name, handle=me.get('username', ''), name_shown=me.get('name', '')))}")
    out.print(esc(t("connect.x_renewal")))
    out.print(esc(t("connect.stored_in", where=t("connect.store_" + store.backend), path=str(store.file))))
    if released:
        out.print(esc(t("connect.released", count=len(released), name=name)))


def _connect_telegram(config, name: str, *, handle: str, api_base_url: str | None, chat_id: str | None) -> None:
    from planner.accounts import connect_telegram
    from planner.accounts.config_write import write_account
    from planner.accounts.secrets import SecretStore
    from planner.platforms.redaction import register_secrets

    out = console()
    token = _secret_prompt(t("connect.telegram_token")).strip()
    register_secrets([token])
    chat_id = (chat_id or typer.prompt(t("connect.telegram_chat")).strip())
    bot = connect_telegram.verify(token, chat_id, api_base_url=api_base_url)
    store = SecretStore(config.path)
    references = store.save(name, {"bot_token": token})
    existed = write_account(config.path, name, "telegram", credentials={"bot_token": references["bot_token"]},
                            options={"chat_id": chat_id, "handle": handle or chat_id.lstrip("@"),
                                     "api_base_url": api_base_url})
    released = _after_connect(config, name, "telegram", existed)
    out.print(f"[green]✓[/] {esc(t('connect.telegram_connected', name=name, bot=bot.get('username', ''), chat=chat_id))}")
    out.print(esc(t("connect.telegram_renewal")))
    out.print(esc(t("connect.stored_in", where=t("connect.store_" + store.backend), path=str(store.file))))
    if released:
        out.print(esc(t("connect.released", count=len(released), name=name)))


def _connect_bluesky(config, name: str, *, handle: str, api_base_url: str | None) -> None:
    from planner.accounts import connect_bluesky
    from planner.accounts.config_write import write_account
    from planner.accounts.secrets import SecretStore
    from planner.platforms.redaction import register_secrets

    out = console()
    handle = handle or typer.prompt(t("connect.bluesky_handle")).strip()
    app_password = _secret_prompt(t("connect.bluesky_app_password")).strip()
    register_secrets([app_password])
    session = connect_bluesky.verify(handle, app_password, api_base_url=api_base_url)
    store = SecretStore(config.path)
    references = store.save(name, {"app_password": app_password})
    existed = write_account(config.path, name, "bluesky", credentials={"app_password": references["app_password"]},
                            options={"handle": session["handle"], "api_base_url": api_base_url})
    released = _after_connect(config, name, "bluesky", existed)
    out.print(f"[green]✓[/] {esc(t('connect.bluesky_connected', name=name, handle=session['handle']))}")
    out.print(esc(t("connect.bluesky_renewal")))
    out.print(esc(t("connect.stored_in", where=t("connect.store_" + store.backend), path=str(store.file))))
    if released:
        out.print(esc(t("connect.released", count=len(released), name=name)))


def _browser_consent(auth, port: int, open_browser: bool, name: str, intro: str) -> str:
    """Show (and open) the consent link; the code from the loopback redirect or the pasted address."""
    from planner.accounts import connect_x
    from planner.errors import PlannerError

    out = console()
    receiver = None
    if port:
        try:
            receiver = connect_x.LoopbackReceiver(port, auth.state, t("connect.done_page"))
        except PlannerError as exc:
            out.print(f"[yellow]![/] {esc(exc.render())}")
    out.print(esc(intro))
    print(auth.url, flush=True)  # whole, unwrapped: it is copied by hand on a server
    if open_browser and _has_browser():
        import webbrowser

        webbrowser.open(auth.url)
    out.print(t("connect.paste_back"))
    try:
        redirected = _wait_for_redirect(receiver)
    finally:
        if receiver is not None:
            receiver.close()
    if redirected is None:
        fail(t("connect.timeout", name=name))
    return connect_x.code_from_redirect(redirected, auth)


def _connect_mastodon(config, name: str, *, handle: str, api_base_url: str | None, port: int,
                      open_browser: bool) -> None:
    from planner.accounts import connect_mastodon
    from planner.accounts.config_write import write_account
    from planner.accounts.secrets import SecretStore
    from planner.platforms.endpoints import check_base_url, shown
    from planner.platforms.redaction import register_secrets

    out = console()
    instance = api_base_url or typer.prompt(t("connect.mastodon_instance")).strip()
    problem = check_base_url(instance)
    if problem:
        fail(t(problem, account=name, url=shown(instance)))
    store = SecretStore(config.path)
    stored = store.record(name)
    # The app is registered once per instance and callback address, then reused.
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    if stored.get("instance") == instance and stored.get("redirect_uri") == redirect_uri and stored.get("client_secret"):
        app = {"client_id": stored["client_id"], "client_secret": stored["client_secret"], "redirect_uri": redirect_uri}
    else:
        app = connect_mastodon.register_app(instance, port)
    register_secrets([app["client_secret"]])
    auth = connect_mastodon.start(instance, app["client_id"], app["redirect_uri"])
    code = _browser_consent(auth, port, open_browser, name, t("connect.mastodon_open", instance=instance))
    body = connect_mastodon.exchange(instance, code, auth, app["client_secret"])
    register_secrets([body["access_token"]])
    references = store.save(name, {"access_token": body["access_token"], "client_id": app["client_id"],
                                   "client_secret": app["client_secret"], "instance": instance,
                                   "redirect_uri": app["redirect_uri"], "scope": body.get("scope", "")})
    me = connect_mastodon.whoami(instance, body["access_token"])
    if handle and handle.lstrip("@").split("@")[0].casefold() != me["acct"].split("@")[0].casefold():
        out.print(f"[yellow]![/] {esc(t('connect.handle_differs', configured=handle, actual=me['acct']))}")
    existed = write_account(config.path, name, "mastodon", credentials={"access_token": references["access_token"]},
                            options={"handle": handle or me["acct"], "api_base_url": instance})
    released = _after_connect(config, name, "mastodon", existed)
    out.print(f"[green]✓[/] {esc(t('connect.connected', name=name, handle=me['acct'], name_shown=me['display_name']))}")
    out.print(esc(t("connect.mastodon_renewal")))
    out.print(esc(t("connect.stored_in", where=t("connect.store_" + store.backend), path=str(store.file))))
    if released:
        out.print(esc(t("connect.released", count=len(released), name=name)))


def _connect_facebook(config, name: str, platform: str, *, api_base_url: str | None, client_id: str | None,
                      port: int, page_id: str | None, open_browser: bool) -> None:
    from planner.accounts import connect_facebook
    from planner.accounts.config_write import write_account
    from planner.accounts.secrets import SecretStore
    from planner.platforms.redaction import register_secrets

    out = console()
    store = SecretStore(config.path)
    stored = store.record(name)
    # The Meta app's id and secret are asked once, then kept.
    app_id = client_id or stored.get("app_id") or typer.prompt(t("connect.fb_app_id")).strip()
    app_secret = stored.get("app_secret") or _secret_prompt(t("connect.fb_app_secret")).strip()
    register_secrets([app_secret])
    auth = connect_facebook.start(app_id, api_base_url=api_base_url, port=port)
    code = _browser_consent(auth, port, open_browser, name, t("connect.fb_open", callback=auth.redirect_uri))
    pages = connect_facebook.page_tokens(code, auth, app_secret, api_base_url=api_base_url)
    register_secrets([p["access_token"] for p in pages])
    if platform == "instagram":
        pages = [p for p in pages if (p.get("instagram_business_account") or {}).get("id")]
    if not pages:
        fail(t("connect.fb_no_page" if platform == "facebook" else "connect.ig_no_account"))
    chosen = next((p for p in pages if p["id"] == page_id), None) if page_id else (pages[0] if len(pages) == 1 else None)
    if page_id and chosen is None:
        fail(t("connect.fb_page_not_managed", page=page_id, pages=", ".join(f"{p['name']} ({p['id']})" for p in pages)))
    while chosen is None:
        for number, page in enumerate(pages, 1):
            out.print(esc(f"  {number}. {page['name']} ({page['id']})"))
        answer = typer.prompt(t("connect.fb_pick", count=len(pages))).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(pages):
            chosen = pages[int(answer) - 1]
    token = chosen["access_token"]
    me = connect_facebook.page_of(token, api_base_url=api_base_url)
    if str(me.get("id")) != str(chosen["id"]):  # the token must belong to the Page chosen
        fail(t("connect.fb_token_other_page", page=chosen["id"], other=me.get("id")))
    key = "page_access_token" if platform == "facebook" else "access_token"
    references = store.save(name, {key: token, "app_id": app_id, "app_secret": app_secret})
    options = {"page_id": chosen["id"], "api_base_url": api_base_url}
    if platform == "instagram":
        options["ig_user_id"] = chosen["instagram_business_account"]["id"]
    else:
        options["handle"] = chosen["name"]
    existed = write_account(config.path, name, platform, credentials={key: references[key]}, options=options)
    released = _after_connect(config, name, platform, existed)
    where = chosen["name"] if platform == "facebook" else f"{chosen['name']} → Instagram {options['ig_user_id']}"
    out.print(f"[green]✓[/] {esc(t('connect.fb_connected', name=name, page=where))}")
    out.print(esc(t("connect.fb_renewal")))
    out.print(esc(t("connect.stored_in", where=t("connect.store_" + store.backend), path=str(store.file))))
    if released:
        out.print(esc(t("connect.released", count=len(released), name=name)))


def _secret_prompt(text: str, *, allow_empty: bool = False) -> str:
    """A secret typed at a hidden prompt; from a pipe (no terminal, nothing to hide) read as a plain line."""
    if sys.stdin.isatty():
        return typer.prompt(text, hide_input=True, default="" if allow_empty else None, show_default=False)
    print(text + ": ", end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise typer.Abort()
    print(flush=True)
    if not line.strip() and not allow_empty:
        raise typer.Abort()
    return line.strip()


def _has_browser() -> bool:
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _wait_for_redirect(receiver) -> str | None:
    """The redirected address: from the loopback receiver, or pasted on standard input, whichever comes first."""
    pasted: list[str] = []
    got_paste = threading.Event()
    stdin_closed = threading.Event()

    def read_stdin() -> None:
        try:
            while True:
                line = sys.stdin.readline()
                if not line:
                    stdin_closed.set()
                    return  # no terminal input (EOF): the loopback alone may still answer
                if line.strip():
                    pasted.append(line.strip())
                    got_paste.set()
                    return
        except (OSError, ValueError):
            return

    threading.Thread(target=read_stdin, daemon=True).start()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if receiver is not None and receiver.done.wait(0.1):
            return receiver.result
        if got_paste.wait(0 if receiver is not None else 0.1):
            return pasted[0]
        if receiver is None and stdin_closed.is_set():
            return None  # nothing can arrive any more
    return None


def _after_connect(config, name: str, platform: str, existed: bool) -> list[int]:
    """Audit the change and release the posts held for this account's reconnection."""
    from planner.errors import PlannerError
    from planner.store import audit
    from planner.store.account_holds import release_reconnected
    from planner.store.backend import database_present, open_configured
    from planner.store.db import transaction, utc_iso

    if not database_present(config):
        return []
    try:
        db = open_configured(config)
    except PlannerError:
        return []
    from planner.cli.common import actor_name

    actor = actor_name(config)
    now = clock.now()
    with transaction(db) as conn:
        audit.record(conn, at=utc_iso(now), actor=actor, action="account.connect", subject=f"account:{name}",
                     detail={"platform": platform, "replaced": existed})
    return release_reconnected(db, name, now=now, actor=actor)


__all__ = ["connect", "options"]


def token_state_lines(config, account) -> list[str]:
    """What `account check` says of an account's token: when it runs out, whether it renews itself."""
    from planner.i18n.dates import format_moment

    tokens = getattr(account, "tokens", None)
    if tokens is None:
        if account.platform == "x" and account.credentials.get("access_token_secret"):
            return [t("token.no_expiry_oauth1")]
        # Tokens that `account connect` obtained (references into the tool's own store): their kind is known.
        references = config.accounts[account.name].credentials.values() if account.name in config.accounts else ()
        if any(r.startswith(("secrets:", "keyring:humas-planner/")) for r in references):
            from planner.accounts.expiry import expiring

            stored = dict(expiring(config, clock.now(), days=36500)).get(account.name)
            if stored is not None:  # an expiry without a refresh path: said, with what to do before then
                return [t("token.expires_stored", time=format_moment(stored, config.timezone), name=account.name)]
            key = {"telegram": "token.no_expiry_telegram", "mastodon": "token.no_expiry_mastodon",
                   "facebook": "token.no_expiry_page", "instagram": "token.no_expiry_page",
                   "bluesky": "token.bluesky_sessions"}.get(account.platform)
            return [t(key)] if key else []
        return []
    expires = tokens.expires_at(tokens.record())
    when = format_moment(expires, config.timezone) if expires else "?"
    return [t("token.auto_renewed", time=when)]


def release_after_check(config, name: str) -> int:
    """The account answered with working credentials: posts held for its reconnection go back to the queue."""
    from planner.errors import PlannerError
    from planner.store.account_holds import held_for_reconnect, release_reconnected
    from planner.store.backend import database_present, open_configured

    if not database_present(config):
        return 0
    try:
        db = open_configured(config)
        if not held_for_reconnect(db, name):
            return 0
        from planner.cli.common import actor_name

        return len(release_reconnected(db, name, now=clock.now(), actor=actor_name(config)))
    except PlannerError:
        return 0
