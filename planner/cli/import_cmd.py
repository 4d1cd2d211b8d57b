"""`planner import FILE.csv --campaign ID`: content rows from a spreadsheet appended to the campaign FILE.

All or nothing (planner.importer checks the whole resulting file first); the database is only changed with
--apply, through the same library function as `planner campaign apply` (planner.services.apply).
"""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli.common import EXIT_PROBLEMS, console, esc, fail, load_config
from planner.i18n import t


def _where(problem, headers: dict[str, str] | None = None) -> str:
    if problem.row is None and problem.where:
        return t("import.in_campaign_file", where=problem.where)
    if problem.row is None:
        return t("import.whole_csv")
    if problem.column:
        # The column as the CSV's header names it: "kolom tanggal", not our internal "date".
        column = ", ".join((headers or {}).get(c, c) for c in problem.column.split(", "))
        return t("import.at_row_column", row=problem.row, column=column)
    return t("import.at_row", row=problem.row)


def _print_problems(plan, campaign_file: Path) -> None:
    out = console()
    out.print(f"[bold red]{esc(t('import.refused', count=len(plan.problems), file=str(campaign_file)))}[/]")
    for problem in plan.problems:
        out.print(f"  [red]✗[/] [cyan]{esc(_where(problem, plan.headers))}[/]: {esc(problem.what())}")
        out.print(f"    [dim]{t('validate.fix')}:[/] {esc(problem.fix())}")


def _print_rows(plan) -> None:
    from rich.table import Table

    from planner.i18n.dates import format_moment

    campaign = plan.loaded.campaign
    zone = campaign.timezone
    rows = []
    for entry in plan.rows:
        content = entry.content
        when = format_moment(content["at"].replace(tzinfo=zone), zone)
        channels = ", ".join(content.get("channels", ())) or t("import.all_channels")
        words = " ".join(content["text"].split()[:10])
        if len(content["text"].split()) > 10:
            words += "…"
        rows.append((str(entry.row), content["id"], when, channels, words))
    out = console()
    table = Table(box=None)
    # The content id (what the user types next) and the time are never cut. Below 100 columns they share one
    # column, the time under the id; account names wrap at their commas, the text wraps.
    id_width = max((len(r[1]) for r in rows), default=0)
    when_width = max((len(r[2]) for r in rows), default=0)
    table.add_column(t("import.col_row"), no_wrap=True)
    if out.width < 100:
        table.add_column(f"{t('import.col_id')}\n{t('import.col_when')}", no_wrap=True,
                         min_width=max(id_width, when_width))
    else:
        table.add_column(t("import.col_id"), no_wrap=True, min_width=id_width)
        table.add_column(t("import.col_when"), no_wrap=True, min_width=when_width)
    table.add_column(t("import.col_channels"), overflow="fold", min_width=min(12, max(len(r[3]) for r in rows)))
    table.add_column(t("import.col_text"), overflow="fold")
    for row, content_id, when, channels, words in rows:
        if out.width < 100:
            table.add_row(row, f"{esc(content_id)}\n{when}", esc(channels), esc(words))
        else:
            table.add_row(row, esc(content_id), when, esc(channels), esc(words))
    out.print(table)


def register(app: typer.Typer) -> None:
    @app.command("import", help=t("help.import"))
    def import_csv(
        csv_file: Path = typer.Argument(..., help=t("help.import_csv"), show_default=False),
        campaign: str = typer.Option(..., "--campaign", help=t("help.import_campaign"), show_default=False),
        file: Path = typer.Option(None, "--file", help=t("help.import_file"), show_default=False),
        dry_run: bool = typer.Option(False, "--dry-run", help=t("help.import_dry_run")),
        apply: bool = typer.Option(False, "--apply", help=t("help.import_apply")),
    ) -> None:
        from planner.importer import ImportRefused, plan_import, write_atomically
        from planner.services.apply import on_record

        if dry_run and apply:
            fail(t("import.dry_run_and_apply"))
        config = load_config()
        record = on_record(config, campaign)
        if file is not None:
            campaign_file = file.expanduser()
        elif record.source_file:
            campaign_file = Path(record.source_file)
        else:
            fail(t("import.no_source", id=campaign))
        if not csv_file.is_file():
            fail(t("import.csv_missing", path=str(csv_file)))
        try:
            plan = plan_import(csv_file, campaign_file, config, campaign_id=campaign, published=record.published,
                               applied_times=record.times)
        except ImportRefused as exc:
            fail(t(exc.key, **exc.params))
        out = console()
        for warning in plan.warnings:
            out.print(f"  [yellow]![/] [cyan]{esc(_where(warning, plan.headers))}[/]: {esc(warning.what())} "
                      f"[dim]{esc(warning.fix())}[/]")
        if not plan.ok:
            _print_problems(plan, campaign_file)
            raise typer.Exit(EXIT_PROBLEMS)
        if dry_run:
            out.print(f"[bold yellow]{t('import.dry_run_header')}[/]")
            _print_rows(plan)
            out.print(esc(t("import.dry_run_done", count=len(plan.rows), file=str(campaign_file))))
            return
        try:
            write_atomically(plan)
        except ImportRefused as exc:
            fail(t(exc.key, **exc.params))
        except OSError as exc:
            fail(t("import.write_failed", path=str(campaign_file), error=exc.strerror or type(exc).__name__))
        _print_rows(plan)
        out.print(esc(t("import.done", count=len(plan.rows), file=str(campaign_file))))
        if apply:
            from planner.cli.campaign import apply_and_print
            from planner.services.apply import check_files

            apply_and_print(config, check_files(config, [campaign_file]), dry_run=False)
        else:
            out.print(esc(t("import.next_apply", file=str(campaign_file))))
