"""`planner queue`: upcoming posts in local time."""

from __future__ import annotations


import typer

from planner.cli.common import console, esc, fail, load_config, open_database, parse_local_time
from planner.cli.json_out import emit, json_option, post_item, utc
from planner.i18n import t


def _parse_local(value: str | None, zone, option: str) -> str | None:
    from planner.store.db import utc_iso

    return utc_iso(parse_local_time(value, zone, option)) if value is not None else None


def register(app: typer.Typer) -> None:
    @app.command("queue", help=t("help.queue"))
    def queue(
        campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
        start: str = typer.Option(None, "--from", help=t("help.opt_from")),
        end: str = typer.Option(None, "--to", help=t("help.opt_to")),
        state: list[str] = typer.Option(None, "--state", help=t("help.opt_state")),
        limit: int = typer.Option(200, "--limit", help=t("help.opt_limit")),
        slots: bool = typer.Option(False, "--slots", help=t("help.opt_slots")),
        days: int = typer.Option(7, "--days", min=1, max=62, help=t("help.opt_days")),
        as_json: bool = json_option(),
    ) -> None:
        if slots:
            _print_slots(days)
            return

        from planner import clock
        from planner.store.db import utc_iso
        from planner.store.queries import STATE_ORDER, parse_state, queue_rows, state_names

        config = load_config()
        state = [parse_state(s) or fail(t("queue.bad_state", value=s, choices=state_names(STATE_ORDER)))
                 for s in state or []]  # a code or a name in either language (terbit, published)
        db = open_database(config)
        zone = config.timezone
        start_utc = _parse_local(start, zone, "--from")
        if start_utc is None and not state:
            start_utc = utc_iso(clock.now())
        rows = queue_rows(db, campaign=campaign, start=start_utc, end=_parse_local(end, zone, "--to"),
                          states=state or ["draft", "pending_approval", "queued", "held", "failed_retryable"],
                          limit=limit)
        if as_json:
            emit("queue", posts=[{**post_item(row), "text": row["text"], "published_at": utc(row["published_at"])}
                                 for row in rows])
            return
        if not rows:
            console().print(t("queue.empty"))
            return
        print_queue_table(rows, zone)
        console().print(t("queue.count", count=len(rows)))


def print_queue_table(rows: list[dict], zone) -> None:
    """The queue as a table that fits the terminal. Post ids, times, account names and campaign/content ids
    are never cut: a wide table (one line a post, the text shortened to what is left) when they all fit with
    room for the text, else a compact one (two lines a post; the text only when there is room for it)."""
    from rich.cells import cell_len
    from rich.table import Table

    from planner.i18n.dates import format_moment
    from planner.store.db import parse_utc

    out = console()
    width = out.width
    cells = [(f"#{row['id']}", t("response.standby_time") if row.get("standby") else
              format_moment(parse_utc(row["due_at"]), zone), row["channel"],
              f"{row['campaign_id']}/{row['content_id']}", t("state." + row["state"]),
              " ".join(row["text"].split())) for row in rows]
    headers = [t("queue.col_id"), t("queue.col_when"), t("queue.col_channel"), t("queue.col_campaign"),
               t("queue.col_state"), t("queue.col_text")]

    def widest(index: int) -> int:
        return max(cell_len(headers[index]), *(cell_len(c[index]) for c in cells))

    ids, when, channel, campaign, state = (widest(i) for i in range(5))
    # box=None tables put one space on each side of every cell.
    room = width - (ids + when + channel + campaign + state) - 2 * 6
    table = Table(box=None)
    if room >= 20:
        for header in headers[:5]:
            table.add_column(header, no_wrap=True)
        table.add_column(headers[5], no_wrap=True, overflow="ellipsis", max_width=room)
        for id_, moment, chan, content, st, text in cells:
            table.add_row(id_, moment, esc(chan), esc(content), st, esc(_shorten(text, room)))
    else:
        side = max(channel, state)
        main = max(when, campaign)
        if ids + main + side + 2 * 3 > width:
            # "campaign/content" on two lines, broken after the '/': each id stays whole.
            cells = [(id_, moment, chan, content.replace("/", "/\n", 1), st, text)
                     for id_, moment, chan, content, st, text in cells]
            main = max(when, *(cell_len(part) for c in cells for part in c[3].split("\n")))
        room = width - (ids + main + side) - 2 * 4
        # No column may be cut: below the minimum the terminal is too narrow, rich folds them.
        table.add_column(headers[0], no_wrap=True, overflow="fold")
        table.add_column(f"{headers[1]}\n{headers[3]}", overflow="fold", min_width=main)
        table.add_column(f"{headers[2]}\n{headers[4]}", overflow="fold", min_width=side)
        if room >= 16:
            table.add_column(headers[5], overflow="ellipsis", max_width=room)
        for id_, moment, chan, content, st, text in cells:
            row = [id_, f"{moment}\n[dim]{esc(content)}[/]", f"{esc(chan)}\n{st}"]
            if room >= 16:
                row.append(esc(_two_lines(text, room)))
            table.add_row(*row)
    out.print(table)


def _two_lines(text: str, width: int) -> str:
    """The start of ``text`` on at most two lines of ``width`` cells, broken at words."""
    from rich.cells import cell_len

    lines: list[str] = []
    words = text.split()
    while words and len(lines) < 2:
        line = words.pop(0)
        while words and cell_len(line) + 1 + cell_len(words[0]) <= width:
            line += " " + words.pop(0)
        lines.append(line)
    if words:
        lines[-1] = _shorten(lines[-1] + " " + " ".join(words), width)
    return "\n".join(_shorten(line, width) for line in lines)


def _shorten(text: str, width: int) -> str:
    """At most ``width`` cells, cut at a word when possible, with '…' when cut."""
    from rich.cells import cell_len

    if cell_len(text) <= width:
        return text
    cut = text[:max(1, width - 1)]
    if " " in cut[width // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip() + "…"


def _print_slots(days: int) -> None:
    """Each account's posting slots over the next days: used (by which post) or free, with the
    account's past engagement at that weekday and hour, so staff can pick the better ones."""
    from datetime import timedelta

    from planner.domain.slots import slot_times
    from planner.i18n.dates import format_moment, format_number
    from planner.monitoring.best_time import account_grid
    from planner.services.apply import account_slots
    from planner import clock
    from planner.store.db import parse_utc
    from planner.store.queries import channel_posts_from

    config = load_config()
    db = open_database(config)
    out = console()
    per_account = account_slots(config)
    if not per_account:
        out.print(t("queue.no_slots"))
        return
    now = clock.now()
    until = (now.astimezone(config.timezone) + timedelta(days=days)).date()
    for channel, (slots_, zone) in per_account.items():
        used = {}
        for row in channel_posts_from(db, channel, now):
            used[parse_utc(row["due_at"])] = row
        grid = account_grid(db, channel, zone)
        out.rule(esc(channel))
        for moment in slot_times(slots_, zone, now, until):
            local = moment.astimezone(zone)
            score = grid[local.weekday()][local.hour]
            hint = t("queue.slot_score", value=format_number(score)) if score is not None else ""
            row = used.get(moment)
            if row:
                out.print(f"  {format_moment(moment, zone)}  [dim]{t('queue.slot_used', id=row['id'], content=esc(row['content_id']))}[/] {hint}")
            else:
                out.print(f"  {format_moment(moment, zone)}  [green]{t('queue.slot_free')}[/] {hint}")
