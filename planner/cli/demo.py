"""`planner demo`: a tour on a temporary workspace with the example campaigns."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from planner.i18n import t


def _example_campaigns() -> Path:
    """campaigns/ of the source checkout (the examples ship with the repository)."""
    here = Path(__file__).resolve().parents[2] / "campaigns"
    if not here.is_dir():
        from planner.cli.common import fail

        fail(t("demo.no_examples", path=str(here)))
    return here


def register(app: typer.Typer) -> None:
    @app.command("demo", help=t("help.demo"))
    def demo(directory: Path = typer.Option(None, "--dir", help=t("help.demo_dir"))) -> None:
        from planner.cli.common import console, options
        from planner.cli.main import build_app

        workspace = directory or Path(tempfile.mkdtemp(prefix="humas-planner-demo-"))
        out = console()
        out.rule(t("demo.title"))
        out.print(t("demo.workspace", path=str(workspace)))
        app_ = build_app()
        config = str(workspace / "config.toml")

        def step(title: str, *args: str) -> None:
            out.rule(title)
            try:
                app_([*(["--lang", options.lang] if options.lang else []), "--config", config, *args],
                     prog_name="planner", standalone_mode=False)
            except SystemExit as exc:
                if exc.code:
                    raise typer.Exit(int(exc.code))

        step(t("demo.step_init"), "init", str(workspace))
        target = workspace / "campaigns"
        for item in _example_campaigns().iterdir():
            destination = target / item.name
            if item.is_dir():
                shutil.copytree(item, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(item, destination)
        files = sorted(str(p) for p in target.glob("*.toml"))
        step(t("demo.step_validate"), "campaign", "validate", *files)
        step(t("demo.step_apply"), "campaign", "apply", *files)
        step(t("demo.step_list"), "campaign", "list")
        step(t("demo.step_queue"), "queue", "--limit", "15")
        out.rule()
        out.print(t("demo.done", path=str(workspace)))
