"""A publishing workspace on PostgreSQL for the worker tests: the same config and sandbox as
publishing_helpers.Workspace, with PLANNER_DATABASE_URL set for every process it starts and its rows read
from PostgreSQL. Imported as ``worker_helpers``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import publishing_helpers as ph

from planner.config import DATABASE_URL_ENV


class PgWorkspace(ph.Workspace):
    def __init__(self, root: Path, base_url: str, url: str, *, publishing: str | None = None):
        super().__init__(root, base_url, publishing=publishing)
        self.url = url
        self.env[DATABASE_URL_ENV] = url

    def set_config(self, *, extra: str = "", publishing: str | None = None) -> None:
        """config.toml rewritten with ``extra`` top-level tables ([approval], [users]...)."""
        from planner.sandbox.workspace import write_sandbox_config

        write_sandbox_config(self.root, self.base_url, extra=extra, publishing=publishing or ph.publishing_toml())

    def _connect(self):
        import psycopg
        from psycopg.rows import dict_row

        return psycopg.connect(self.url, autocommit=True, row_factory=dict_row)

    @staticmethod
    def _sql(sql: str) -> str:
        """The helpers' SQLite-flavoured SQL for psycopg: `?` marks, and `WHERE 1` (true) spelled out."""
        return re.sub(r"\b(WHERE|AND) 1\b(?!\s*[=<>])", r"\1 TRUE", sql).replace("?", "%s")

    def rows(self, sql: str, params: Sequence = ()) -> list[dict]:
        with self._connect() as conn:
            return list(conn.execute(self._sql(sql), list(params)).fetchall())

    def execute(self, sql: str, params: Sequence = ()) -> int:
        with self._connect() as conn:
            return conn.execute(self._sql(sql), list(params)).rowcount

    def library(self):
        """(config, database) as a command of this workspace would open them, in this process."""
        from planner.config import load_config
        from planner.store.backend import connect_database

        before = os.environ.get(DATABASE_URL_ENV)
        os.environ[DATABASE_URL_ENV] = self.url
        try:
            config = load_config(self.config)
        finally:
            if before is None:
                os.environ.pop(DATABASE_URL_ENV, None)
            else:
                os.environ[DATABASE_URL_ENV] = before
        return config, connect_database(self.url)

    def apply(self, campaign_id: str, contents: Sequence[ph.Item], *, channels: Sequence[str],
              grace: str | None = None, actor: str = "uji") -> Path:
        """`planner campaign apply` on PostgreSQL (it defers each post's job)."""
        path = self.root / f"{campaign_id}.toml"
        path.write_text(ph.campaign_toml(campaign_id, contents, channels=channels, grace=grace), "utf-8")
        self.planner("--as", actor, "campaign", "apply", str(path), check=True)
        return path

    def jobs(self, where: str = "TRUE") -> list[dict]:
        return self.rows(f"SELECT * FROM procrastinate_jobs WHERE {where} ORDER BY id")


def wait_for_worker(proc: ph.Proc, timeout: float = 60) -> None:
    ph.wait_for(lambda: "Pekerja mulai berjalan" in proc.output() or not proc.alive(), timeout,
                "the worker to start", interval=0.05, procs=[proc])
    assert proc.alive(), proc.output()
