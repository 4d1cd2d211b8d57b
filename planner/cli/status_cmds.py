"""`planner status` and `planner post show|cancel|retry|requeue`."""

from __future__ import annotations

import json

import typer

from planner.cli.common import EXIT_PROBLEMS, actor_name, console, esc, fail, load_config, open_database
from planner.cli.json_out import json_option
from planner.i18n import t

post_app = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    @app.command("status", help=t("help.status"))
    def status(as_json: bool = json_option()) -> None:
        from planner.i18n.dates import format_moment
        from planner.i18n.platform_errors import say
        from planner.publishing.service import heartbeat_state
        from planner.services.pausing import paused_reason
        from planner.services.status import lateness_last_day
        from planner.store import dashboard
        from planner import clock
        from planner.store.db import parse_utc
        from planner.store.queries import campaign_state_counts

        config = load_config()
        db = open_database(config)
        if as_json:
            from planner.cli.json_lists import status_document

            if status_document(db, config):
                raise typer.Exit(EXIT_PROBLEMS)
            return
        out = console()
        zone = config.timezone
        beat = heartbeat_state(db)
        if beat:
            out.print(f"[green]●[/] {t('status.running', host=beat['host'], pid=beat['pid'], age=round(beat['age_s']))}")
        on_postgres = getattr(db, "dialect", "sqlite") == "postgresql"
        workers = on_postgres and _print_workers(out, db)
        if not beat and not workers:
            out.print(f"[red]●[/] {t('worker.none_live' if on_postgres else 'status.not_running')}")
        paused = paused_reason(db)
        if paused:
            out.print(f"[bold red]{esc(t('status.paused', reason=paused))}[/]")
        counts = campaign_state_counts(db)
        out.print(f"\n[bold]{t('status.counts')}[/]")
        out.print("  " + (", ".join(f"{t('state.' + s)}: {n}" for s, n in counts.items()) or "-"))

        upcoming = dashboard.upcoming(db)
        out.print(f"\n[bold]{t('status.next')}[/]")
        for row in upcoming:
            out.print(f"  #{row['id']} {format_moment(parse_utc(row['due_at']), zone)} {esc(row['channel'])}: "
                      f"{esc(' '.join(row['text'].split()[:8]))}…")
        if not upcoming:
            out.print("  -")

        attention = dashboard.needing_attention(db)
        if attention:
            out.print(f"\n[bold red]{t('status.attention', count=len(attention))}[/]")
            for row in attention[:30]:
                out.print(f"  [red]#{row['id']}[/] {t('state.' + row['state'])} · {esc(row['channel'])} · "
                          f"{format_moment(parse_utc(row['due_at']), zone)}"
                          + (f"\n     {esc(say(row['last_error']))}" if row["last_error"] else "")
                          + f"\n     [dim]→ {esc(t('status_hint.' + row['state'], id=row['id']))}[/]")
            out.print(f"  {t('status_hint.general')}")

        errors = dashboard.recent_retries(db)
        if errors:
            out.print(f"\n[bold]{t('status.last_errors')}[/]")
            for row in errors:
                out.print(f"  #{row['id']} {esc(row['channel'])}: {esc(say(row['last_error']))}")

        late = lateness_last_day(db, now=clock.now())
        out.print(f"\n[bold]{t('status.lateness')}[/]")
        if late:
            from planner.i18n.dates import format_number

            # Numbers as the language writes them ("0,14 dtk" beside "6,0 jam"), like every other figure.
            out.print("  " + t("status.lateness_values", count=late.count, p50=format_number(late.p50_s, decimals=2),
                               p99=format_number(late.p99_s, decimals=2),
                               worst=format_number(late.worst_s, decimals=2)))
        else:
            out.print("  -")
        if attention:
            raise typer.Exit(EXIT_PROBLEMS)


def _print_workers(out, db) -> bool:
    """PostgreSQL: the workers whose heartbeat is fresh, and the posts each is publishing now (False: none)."""
    from datetime import datetime, timezone

    from planner.store.worker_jobs import live_workers
    from planner.workers.app import STALLED_AFTER

    workers = live_workers(db, stale_after=STALLED_AFTER)
    if not workers:
        return False
    out.print(f"[green]●[/] {t('worker.live', count=len(workers))}")
    now = datetime.now(timezone.utc)
    for worker in workers:
        age = max(0, round((now - worker.last_heartbeat).total_seconds()))
        out.print(t("worker.live_one", id=worker.id, age=age,
                    posts=", ".join(f"#{p}" for p in worker.posts) or t("worker.nothing")))
    return True


def _post_or_fail(db, post_id: int) -> dict:
    from planner.store.posts import get

    row = get(db, post_id)
    if row is None:
        fail(t("post.not_found", id=post_id))
    return row


@post_app.command("show", help=t("help.post_show"))
def show(post_id: int = typer.Argument(..., help=t("help.post_id"))) -> None:
    from planner.i18n.dates import format_moment
    from planner.i18n.events import describe, describe_hold
    from planner.store import post_history
    from planner.store.db import parse_utc

    config = load_config()
    db = open_database(config)
    row = _post_or_fail(db, post_id)
    zone = config.timezone
    out = console()
    out.print(f"[bold]#{row['id']}[/] {esc(row['campaign_id'])}/{esc(row['content_id'])} → {esc(row['channel'])} "
              f"({row['platform']})")
    out.print(f"{t('post.state')}: [bold]{t('state.' + row['state'])}[/]"
              + (f" ({esc(describe_hold(row, zone))})" if row.get("hold_kind") else ""))
    out.print(f"{t('post.due')}: {format_moment(parse_utc(row['due_at']), zone)}")
    if row["published_at"]:
        from planner.i18n.dates import format_number

        late = format_number((row["late_ms"] or 0) / 1000, decimals=1)
        out.print(f"{t('post.published')}: {format_moment(parse_utc(row['published_at']), zone)} "
                  f"({t('post.late', seconds=late)})")
    if row["url"] or row["platform_post_id"]:
        out.print(f"{t('post.link')}: {esc(row['url'] or row['platform_post_id'])}")
    if row["last_error"]:
        from planner.i18n.platform_errors import say

        out.print(f"{t('post.error')}: [red]{esc(say(row['last_error']))}[/]")
    out.print(f"{t('post.attempts')}: {row['attempt']}")
    thread = json.loads(row["thread"] or "[]")
    if thread and row.get("thread_ids"):
        live = json.loads(row["thread_ids"])
        out.print(t("post.thread", live=len(live), total=len(thread) + 1) + f" ({esc(', '.join(live))})")
    if thread and (row.get("thread_ids") or row["state"] != "published"):
        _print_parts(out, row, thread, json.loads(row.get("thread_ids") or "[]"))
    out.print(f"\n{esc(row['text'])}")
    if row["link"]:
        out.print(esc(row["link"]))
    media = json.loads(row["media"])
    if media:
        out.print(f"{t('post.media')}: {esc(', '.join(media))}")
    out.print(f"\n[bold]{t('post.history')}[/]")
    for event in post_history.of_post(db, post_id):
        before = t("state." + event["from_state"]) if event["from_state"] else "-"
        out.print(f"  {format_moment(parse_utc(event['at']), zone)}  {before} → {t('state.' + event['to_state'])}"
                  f"  [dim]{esc(event['actor'])}[/]  {esc(describe(event, zone))}")


def _print_parts(out, row, thread: list[str], live: list[str]) -> None:
    """Every part of a thread, what it becomes on the platform, and whether it is live yet."""
    from planner.domain.text_rules import LIMITS

    comments = (LIMITS.get(row["platform"]) or {}).get("thread_as") == "comments"
    for n, text in enumerate([row["text"], *thread], 1):
        if n == 1:
            label = t("post.part_head")
        else:
            label = t("preview.comment_part" if comments else "preview.thread_part", n=n)
        state = t("post.part_live", id=live[n - 1]) if n <= len(live) else t("post.part_pending")
        first = (text.splitlines() or [""])[0]
        first = first if len(first) <= 60 else first[:59] + "…"
        out.print(f"  {n}. {esc(label)} · {esc(state)} · [dim]{esc(first)}[/]")


def _hand_change(change, post_id: int, message_key: str, *, releases: bool = True) -> None:
    """One change by hand (a function of planner.services.posts); ``releases``: it may put the post in the
    queue."""
    from planner import clock
    from planner.store.posts import TransitionRefused

    config = load_config()
    db = open_database(config)
    extra = {"approval_required": config.approval_required} if releases else {}
    try:
        changed = change(db, post_id, actor=actor_name(config), now=clock.now(), **extra)
    except TransitionRefused as exc:
        fail(exc.render())
    if changed.back_to_approval:
        console().print(t("post.back_to_approval", id=post_id))
        return
    console().print(t(message_key, id=post_id))


@post_app.command("cancel", help=t("help.post_cancel"))
def cancel(post_id: int = typer.Argument(..., help=t("help.post_id"))) -> None:
    from planner.services.posts import cancel as cancel_post

    _hand_change(cancel_post, post_id, "post.canceled", releases=False)


@post_app.command("retry", help=t("help.post_retry"))
def retry(post_id: int = typer.Argument(..., help=t("help.post_id"))) -> None:
    from planner.services.posts import retry as retry_post

    _hand_change(retry_post, post_id, "post.retried")


@post_app.command("requeue", help=t("help.post_requeue"))
def requeue(post_id: int = typer.Argument(..., help=t("help.post_id"))) -> None:
    """A missed post, or one a person checked (needs_review: certainly not on the platform), goes out now."""
    from planner.services.posts import requeue as requeue_post

    _hand_change(requeue_post, post_id, "post.requeued")
