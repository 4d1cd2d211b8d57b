"""`planner init [DIR]`: config.toml, the database and a campaigns/ folder. Safe to run twice."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from planner.cli.common import console, fail
from planner.i18n import get_language, t


def register(app: typer.Typer) -> None:
    @app.command("init", help=t("help.init"))
    def init(
        directory: Path = typer.Argument(Path("."), help=t("help.init_dir")),
        force: bool = typer.Option(False, "--force", help=t("help.init_force")),
    ) -> None:
        from planner.config import load_config
        from planner.errors import PlannerError
        from planner.store.backend import database_label, open_configured

        out = console()
        directory = directory.expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        config_path = directory / "config.toml"
        # The same settings, commented in the user's language (config.example.id.toml: Indonesian).
        template = "data/config.example.id.toml" if get_language() == "id" else "data/config.example.toml"
        from importlib import resources

        example = resources.files("planner").joinpath(template).read_text("utf-8")
        if config_path.exists() and not force:
            out.print(t("init.config_kept", path=str(config_path)))
        else:
            if config_path.exists():
                backup = config_path.with_name("config.toml.bak")
                # Private like the config itself: the old file may hold a literal secret.
                _write_private(backup, config_path.read_text("utf-8"))
                out.print(t("init.config_backup", path=str(backup)))
            _write_private(config_path, example)
            out.print(t("init.config_written", path=str(config_path)))
        try:
            config = load_config(config_path)
        except PlannerError as exc:
            fail(exc.render())
        existed = config.database.exists()
        try:
            # Closed at once: the WAL is checkpointed, leaving one self-contained file.
            open_configured(config, create=True).conn.close()
        except PlannerError as exc:
            fail(exc.render())
        if config.database_url:
            out.print(t("init.db_postgres", url=database_label(config.database_url)))
        else:
            out.print(t("init.db_kept" if existed else "init.db_created", path=str(config.database)))
        if not config.campaigns_dir.exists():
            config.campaigns_dir.mkdir(parents=True)
            out.print(t("init.campaigns_created", path=str(config.campaigns_dir)))
        out.print(t("init.next_steps", dir=str(directory)))


def _write_private(path: Path, text: str) -> None:
    """Write via a temporary file readable by the owner only, then rename: never half a config."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover .tmp from an interrupted run keeps its old mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
