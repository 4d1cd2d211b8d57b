"""`planner demo`: the whole product on the built-in sandbox, in a temporary workspace.

Starts the sandbox in-process, sets up a workspace whose accounts point at it, applies the
example campaigns with their times moved to the next minute, runs the scheduler until every
post is out, collects metrics and mentions once, prints the monitoring summary, writes the
HTML report, and checks the sandbox's own record: exit 0 only if every post was published
exactly once.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import typer

from planner import clock
from planner.i18n import t

TERMINAL = ("published", "failed", "needs_review", "missed", "canceled")
DEMO_TIMEOUT_S = 100
MARKER = ".humas-planner-demo"  # marks a folder the demo made: only such a folder may be used again


def _demo_workspace(directory: Path | None) -> Path:
    """A new temporary folder, or --dir when it is new, empty, or an earlier demo's.

    Never an office's workspace: the demo writes a sandbox config.toml and publishes every due post
    to the sandbox, so run in a real workspace it would replace the config and record the office's
    own posts as published.
    """
    from planner.cli.common import fail

    if directory is None:
        import tempfile

        workspace = Path(tempfile.mkdtemp(prefix="humas-planner-demo-"))
    else:
        workspace = directory.expanduser().resolve()
        if workspace.exists() and not workspace.is_dir():
            fail(t("demo.dir_not_folder", path=str(workspace)))
        if workspace.is_dir() and any(workspace.iterdir()) and not (workspace / MARKER).is_file():
            fail(t("demo.dir_in_use", path=str(workspace)))
        workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    (workspace / MARKER).write_text("made by 'planner demo'; the demo may use this folder again\n", "utf-8")
    return workspace


def _example_campaigns() -> Path:
    """campaigns/ of the source checkout (the examples ship with the repository)."""
    here = Path(__file__).resolve().parents[2] / "campaigns"
    if not here.is_dir():
        from planner.cli.common import fail

        fail(t("demo.no_examples", path=str(here)))
    return here


def shift_campaign(text: str, *, first: datetime, spacing: timedelta) -> str:
    """The campaign with its window around today and its content due from ``first`` on, in file order.

    Repeats are dropped in the demo copy: their later occurrences would lie weeks ahead.
    """
    import tomlkit

    document = tomlkit.parse(text)
    head = document["campaign"]
    head["start"] = first.date()
    head["end"] = first.date() + timedelta(days=30)
    for i, item in enumerate(document.get("content", [])):
        item["at"] = (first + i * spacing).replace(tzinfo=None, microsecond=0)
        if "repeat" in item:
            del item["repeat"]
    for kpi in document.get("goal", {}).get("kpi", []):
        if "deadline" in kpi:
            kpi["deadline"] = first.date() + timedelta(days=30)
    return tomlkit.dumps(document)


def register(app: typer.Typer) -> None:
    @app.command("demo", help=t("help.demo"))
    def demo(directory: Path = typer.Option(None, "--dir", help=t("help.demo_dir"))) -> None:
        from planner.cli.common import console, esc, options
        from planner.cli.main import build_app
        from planner.sandbox import Sandbox
        from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config

        from planner.config import DATABASE_URL_ENV

        # The demo is a workspace of its own, on its own SQLite file: a PostgreSQL URL in the environment
        # names the office's real database, which the demo's steps must never write to.
        os.environ.pop(DATABASE_URL_ENV, None)
        out = console()
        workspace = _demo_workspace(directory)
        out.rule(t("demo.title"))
        out.print(t("demo.workspace", path=str(workspace)))
        export_sandbox_secrets(os.environ)
        sandbox = Sandbox(seed=7, speed=600).start()
        out.print(t("demo.sandbox", url=sandbox.base_url))
        try:
            # `planner init` writes a fresh config.toml (the folder is the demo's own), then the demo points its
            # accounts at the sandbox: init says what it did, not "already there" in a new folder.
            config_path = workspace / "config.toml"
            config_path.unlink(missing_ok=True)
            app_ = build_app()

            def step(title: str, *args: str) -> None:
                out.rule(title)
                try:
                    app_([*(["--lang", options.lang] if options.lang else []), "--config", str(config_path), *args],
                         prog_name="planner", standalone_mode=False)
                except SystemExit as exc:
                    if exc.code:
                        raise typer.Exit(int(exc.code))

            step(t("demo.step_init"), "init", str(workspace))
            write_sandbox_config(workspace, sandbox.base_url)
            out.print(t("demo.config_sandbox", path=str(config_path)))
            target = workspace / "campaigns"
            source = _example_campaigns()
            shutil.copytree(source / "media", target / "media", dirs_exist_ok=True)
            from planner.config import load_config

            config = load_config(config_path)
            first = datetime.now(config.timezone) + timedelta(seconds=12)
            for file in sorted(source.glob("*.toml")):
                (target / file.name).write_text(shift_campaign(file.read_text("utf-8"), first=first,
                                                               spacing=timedelta(seconds=3)), "utf-8")
            files = sorted(str(p) for p in target.glob("*.toml"))
            step(t("demo.step_validate"), "campaign", "validate", *files)
            step(t("demo.step_apply"), "campaign", "apply", *files)
            step(t("demo.step_queue"), "queue", "--limit", "8")
            out.rule(t("demo.step_run"))
            published_ok = _run_scheduler(config, out)
            out.rule(t("demo.step_monitor"))
            _monitor(config, out, workspace)
            out.rule(t("demo.step_check"))
            exactly_once = _check_sandbox(config, sandbox, out)
        finally:
            sandbox.stop()
        out.rule()
        if published_ok and exactly_once:
            out.print(f"[bold green]{esc(t('demo.done', path=str(workspace)))}[/]")
        else:
            out.print(f"[bold red]{esc(t('demo.failed', path=str(workspace)))}[/]")
            raise typer.Exit(1)


def _counts(db) -> dict[str, int]:
    from planner.store.queries import campaign_state_counts

    return campaign_state_counts(db)


def _run_scheduler(config, out) -> bool:
    """`planner run` in-process, with a live progress display, until every post has an outcome."""
    import logging

    from rich.live import Live
    from rich.logging import RichHandler
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from planner.publishing.dispatcher import Dispatcher
    from planner.publishing.service import Service
    from planner.store.backend import open_configured

    from planner.log_time import rich_time_format

    # ISO date order, local time and zone (2026-12-02 22:35:30 WIB), not rich's "[12/02/26 15:26:35]".
    handler = RichHandler(console=out, show_path=False, markup=False, omit_repeated_times=False,
                          log_time_format=rich_time_format(config.timezone))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)
    for noisy in ("apscheduler", "httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from planner.platforms.redaction import install_redaction

    install_redaction()
    db = open_configured(config)
    total = sum(n for s, n in _counts(db).items() if s != "canceled")
    service = Service(config, dispatcher=Dispatcher(config), shutdown_timeout=10)
    thread = threading.Thread(target=service.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=out)
    task = progress.add_task(t("demo.publishing"), total=total)
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    with Live(progress, console=out, refresh_per_second=4):
        while time.monotonic() < deadline:
            counts = _counts(db)
            progress.update(task, completed=counts.get("published", 0))
            if sum(counts.get(s, 0) for s in TERMINAL) >= total + counts.get("canceled", 0):
                break
            time.sleep(0.5)
    if not out.is_terminal:  # Live's last frame ends without a newline there: the next log line would join it
        out.line()
    service.stop()
    thread.join(30)
    logging.getLogger().handlers[:] = []
    counts = _counts(db)
    out.print(", ".join(f"{t('state.' + s)}: {n}" for s, n in sorted(counts.items())))
    return counts.get("published", 0) == total


def _monitor(config, out, workspace: Path) -> None:
    from planner.monitoring.collect import collect_metrics
    from planner.monitoring.listen import listen
    from planner.reports.text import render_text
    from planner.reports.write import write_report
    from planner.store.backend import open_configured

    db = open_configured(config)
    now = clock.now()
    result = collect_metrics(config, db, now=now, force=True)
    out.print(t("metrics.done", posts=result.posts, snapshots=result.snapshots, not_available=result.not_available))
    heard = listen(config, db, now=now)
    out.print(t("listen.done", new=heard.new_mentions, channels=", ".join(heard.searched) or "-"))
    from planner.reports.model import build_report

    from planner.store.campaign_lookup import ids as campaign_ids

    for campaign_id in campaign_ids(db):
        render_text(build_report(db, campaign_id, now=now), out)
        try:
            path = write_report(db, campaign_id, fmt="html", now=now, out=workspace / "reports" / f"{campaign_id}.html")
        except ImportError:
            continue
        out.print(t("report.written", path=str(path)))


def _check_sandbox(config, sandbox, out) -> bool:
    """The sandbox's own record is the judge: one platform post per published outbox row."""
    import json

    from planner.store.backend import open_configured
    from planner.store.queries import published_platform_refs

    record = sandbox.posts()
    db = open_configured(config)
    rows = published_platform_refs(db)
    received_ids = {p["id"] for p in record["posts"]}
    recorded = [ref for ref, _, parts in rows for ref in ([ref, *json.loads(parts)[1:]] if parts else [ref])]
    missing = [ref for ref in recorded if ref not in received_ids]
    thread_parts = sum(len(json.loads(thread)) for _, thread, _ in rows)  # replies are platform posts of their own
    out.print(t("demo.check", received=record["total"], published=len(rows), replies=thread_parts,
                duplicates=len(record["duplicates"])))
    return not record["duplicates"] and not missing and record["total"] == len(rows) + thread_parts
