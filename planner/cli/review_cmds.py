"""`planner review`, `planner approve`, `planner reject`, `planner audit`."""

from __future__ import annotations


import typer

from planner.cli.common import (EXIT_PROBLEMS, actor_name, console, esc, fail, load_config, open_database,
                                 parse_local_time)
from planner.cli.json_out import json_option
from planner.i18n import t


def require_campaign(db, campaign: str | None) -> None:
    """A --campaign that names no campaign (a typo) is an error naming the known ones, never an empty result."""
    from planner.store.campaign_lookup import CampaignNotFound, require

    if campaign:
        try:
            require(db, campaign)
        except CampaignNotFound as exc:
            fail(exc.render())


def _decide(decide, campaign: str | None, verb_key: str, **arguments) -> None:
    """Approve or reject (a function of planner.services.approval) and say what was done and refused."""
    from planner.errors import PlannerError
    from planner import clock

    config = load_config()
    db = open_database(config)
    actor = actor_name(config)
    try:
        decision = decide(db, campaign=campaign, actor=actor, role=config.role_of(actor), now=clock.now(), **arguments)
    except PlannerError as exc:
        fail(exc.render())
    if decision.nothing_waiting:  # said plainly: a silent exit 0 reads as "done"
        console().print(t("approval_notice.nothing_in", campaign=campaign))
        raise typer.Exit(0)
    out = console()
    if decision.done:
        out.print(t(verb_key, count=len(decision.done), ids=", ".join(f"#{i}" for i in decision.done)))
    for post_id, key in decision.refused:
        out.print(f"[red]✗[/] #{post_id}: {esc(t(key, id=post_id))}")
    if decision.refused:
        raise typer.Exit(EXIT_PROBLEMS)


def register(app: typer.Typer) -> None:
    @app.command("review", help=t("help.review"))
    def review(campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
               as_json: bool = json_option()) -> None:
        import json
        from pathlib import Path

        from planner.domain.text_rules import LIMITS, append_link, text_length
        from planner.i18n.dates import format_moment
        from planner.store.db import parse_utc
        from planner.store.queries import awaiting_approval

        described: dict[str, dict] = {}

        def media_line(n: int, path: str, width: int) -> str:
            """One media file of a post: what an approver approves is these bytes (name, size, pixels, format,
            the start of their SHA-256). One line, or two when one would not fit the terminal."""
            from planner.domain.media import describe_media, format_name
            from planner.i18n.dates import format_number

            try:
                if path not in described:  # a file shared by many posts is read once
                    described[path] = describe_media(path)
                info = described[path]
            except OSError as exc:
                return "  [bold red]✗ " + esc(t("review_media.missing", n=n, file=Path(path).name,
                                                 error=exc.strerror or type(exc).__name__)) + "[/]"
            size = info["size"]
            if size >= 1024 * 1024:
                size_text = f"{format_number(size / (1024 * 1024), decimals=1)} MB"
            else:
                size_text = f"{format_number(size / 1024, decimals=0 if size >= 1024 else 1)} KB"
            dimensions = (f"{info['width']}×{info['height']}" if info["width"] and info["height"]
                          else t("review_media.no_dimensions"))
            kind = format_name(info["kind"]) if info["kind"] else t("review_media.unknown_kind")
            name = t("review_media.name", n=n, file=info["file"])
            details = t("review_media.details", size=size_text, dimensions=dimensions, kind=kind,
                        digest=info["sha256"][:12])
            if len(name) + len(details) + 5 <= width:
                return f"  {esc(name)} · {esc(details)}"
            return f"  {esc(name)}\n    {esc(details)}"

        config = load_config()
        db = open_database(config)
        require_campaign(db, campaign)
        rows = awaiting_approval(db, campaign)
        if as_json:
            from planner.cli.json_lists import review_document

            review_document(rows, actor_name(config))
            return
        out = console()
        if not rows:
            out.print(t("approval.nothing"))
            return
        me = actor_name(config)
        for row in rows:
            text = append_link(row["text"], row["link"]) if row["link"] else row["text"]
            length, limit = text_length(row["platform"], text), LIMITS[row["platform"]]["text_limit"]
            own = f" [yellow]{t('approval.yours')}[/]" if row["author"] == me else ""
            out.rule(f"#{row['id']} · {esc(row['channel'])} ({row['platform']}) · "
                     f"{t('response.standby_time') if row.get('standby') else format_moment(parse_utc(row['due_at']), config.timezone)}")
            out.print(f"{t('approval.author')}: {esc(row['author'] or '-')}{own} · {esc(row['campaign_id'])}/"
                      f"{esc(row['content_id'])} · {t('approval.length', length=length, limit=limit)}")
            out.print(esc(text))
            for n, media_path in enumerate(json.loads(row["media"] or "[]"), 1):
                out.print(media_line(n, media_path, out.width))
        out.print(t("approval.hint"))

    @app.command("approve", help=t("help.approve"))
    def approve(
        post_ids: list[int] = typer.Argument(None, help=t("help.post_id")),
        campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
        override: bool = typer.Option(False, "--override-four-eyes", help=t("help.override")),
    ) -> None:
        from planner.services.approval import approve as approve_posts

        _decide(approve_posts, campaign, "approval.approved", post_ids=post_ids, override=override)

    @app.command("reject", help=t("help.reject"))
    def reject(
        post_ids: list[int] = typer.Argument(None, help=t("help.post_id")),
        campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
        reason: str = typer.Option(..., "--reason", help=t("help.reject_reason")),
    ) -> None:
        from planner.services.approval import reject as reject_posts

        if not reason.strip():
            fail(t("approval.need_reason"))
        _decide(reject_posts, campaign, "approval.rejected", post_ids=post_ids, reason=reason)

    @app.command("audit", help=t("help.audit"))
    def audit_cmd(
        since: str = typer.Option(None, "--since", help=t("help.opt_since")),
        verify: bool = typer.Option(False, "--verify", help=t("help.audit_verify")),
        limit: int = typer.Option(200, "--limit", help=t("help.opt_limit")),
        as_json: bool = json_option(),
    ) -> None:
        from planner.i18n.dates import format_moment
        from planner.store.audit import newest_entries, verify as verify_chain
        from planner.store.db import parse_utc, utc_iso

        config = load_config()
        db = open_database(config)
        out = console()
        if verify:
            from planner.store.audit import head_path, read_head

            found = [read_head(head_path(config.database))]
            found += [read_head(p) for p in sorted(config.backup_dir.glob("*.audit-head"))]
            heads = [h for h in found if h is not None]
            count, breaks = verify_chain(db, heads)
            if as_json:
                from planner.cli.json_lists import audit_verify_document

                audit_verify_document(count, breaks, heads)
                if breaks:
                    raise typer.Exit(EXIT_PROBLEMS)
                return
            if breaks:
                for item in breaks:
                    out.print(f"[bold red]✗ {esc(t('audit.break_' + item.reason, id=item.id, source=item.source))}[/]")
                out.print(f"[bold red]{t('audit.tampered', count=count)}[/]")
                raise typer.Exit(EXIT_PROBLEMS)
            out.print(f"[green]✓[/] {t('audit.intact', count=count)}")
            newest = max((h for h in heads if h.count >= 0), key=lambda h: h.last_id, default=None)
            out.print(t("audit.intact_heads", heads=len(heads), head=newest.short()) if newest
                      else t("audit.no_heads"))
            return
        start = utc_iso(parse_local_time(since, config.timezone, "--since")) if since else None
        rows = newest_entries(db, since=start, limit=limit)
        if as_json:
            from planner.cli.json_lists import audit_document

            audit_document(list(reversed(rows)))
            return
        if not rows:
            out.print(t("audit.empty"))
            return
        for row in reversed(rows):
            who = esc(row["actor"]) + (f" ({t('audit.os_user')}: {esc(row['os_user'])})"
                                       if row.get("os_user") and row["os_user"] != row["actor"] else "")
            out.print(f"{format_moment(parse_utc(row['at']), config.timezone)}  [bold]{who}[/]  "
                      f"{esc(row['action'])}  {esc(row['subject'])}  [dim]{esc(row['detail'])}[/]")
