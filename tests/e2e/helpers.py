"""Shared helpers for the end-to-end CLI tests (imported as ``helpers``; not a conftest)."""

from __future__ import annotations

import functools
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from unittest import mock

import tomlkit
import typer.testing
from typer.testing import CliRunner

from planner.cli import common
from planner.i18n import set_language

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CAMPAIGNS = REPO / "campaigns"
EXAMPLE_CONFIG = REPO / "config.example.toml"

DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
             "Oktober", "November", "Desember")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")

# Channels of config.example.toml that need no media (Instagram does).
PLAIN_CHANNELS = ["kpu_x", "kpu_fb", "kpu_mastodon", "kpu_bluesky", "kpu_telegram"]


@functools.cache
def _planner_command():
    """`planner` as Click sees it, built once per test process, in Indonesian as every call built it before.
    Typer turns each command's signature into Click parameters whenever it is handed the app: that took most
    of an in-process call's time. Nothing in the tree depends on the call (options are read when it runs)."""
    from typer.main import get_command

    from planner.cli.main import build_app

    set_language("id")
    return get_command(build_app())


class _Runner(CliRunner):
    """Typer's test runner, handed the prebuilt command instead of converting the app on every call."""

    def invoke(self, command, *args, **kwargs):
        with mock.patch.object(typer.testing, "_get_command", lambda _app: command):
            return super().invoke(None, *args, **kwargs)


def cli(*args: str, env: dict | None = None, input: str | None = None):
    """Run `planner ARGS` in-process, with the module-level state a fresh process would have."""
    common.options.config = None
    common.options.lang = None
    common.options.actor = None
    set_language("id")
    full_env = {"PLANNER_CONFIG": None, "PLANNER_LANG": None, "COLUMNS": "250"}
    full_env.update(env or {})
    try:
        return _Runner().invoke(_planner_command(), list(args), env=full_env, input=input)
    finally:
        set_language("id")
        common.options.lang = None


def init_workspace(directory: Path) -> Path:
    """`planner init DIRECTORY`; returns the config path."""
    result = cli("init", str(directory))
    assert result.exit_code == 0, result.output
    return directory / "config.toml"


def dump(db_path: Path) -> list[str]:
    """Every statement needed to rebuild the database: equal dumps mean equal databases."""
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def rows(db_path: Path, sql: str, params=()) -> list[dict]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def execute(db_path: Path, sql: str, params=()) -> None:
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def future_monday_in_february() -> date:
    """The first Monday of February next year: always in the future, day and month names known."""
    day = date(date.today().year + 1, 2, 1)
    while day.weekday() != 0:
        day += timedelta(days=1)
    return day


def campaign_doc(campaign_id: str, start: date, *, days: int = 27, channels=None, contents=None,
                 timezone: str = "Asia/Jakarta") -> dict:
    """A valid campaign (as a dict for tomlkit) starting at ``start``; ``contents`` replace the default."""
    channels = list(channels or PLAIN_CHANNELS)
    if contents is None:
        contents = [
            {"id": "pertama", "text": "Pastikan namamu terdaftar di DPT.", "audiences": ["pemula"],
             "at": datetime.combine(start, datetime.min.time()).replace(hour=9)},
            {"id": "kedua", "text": "Cara cek DPT: buka situs, ketik NIK.", "audiences": ["pemula"],
             "at": datetime.combine(start + timedelta(days=2), datetime.min.time()).replace(hour=19)},
            {"id": "ketiga", "text": "Waspada hoaks petugas gadungan.",
             "at": datetime.combine(start + timedelta(days=4), datetime.min.time()).replace(hour=10),
             "channels": channels[:2]},
        ]
    return {
        "campaign": {"id": campaign_id, "name": f"Kampanye {campaign_id}", "owner": "Humas",
                     "timezone": timezone, "start": start, "end": start + timedelta(days=days),
                     "channels": channels},
        "goal": {"objective": "Meningkatkan pemilih pemula yang cek DPT.",
                 "kpi": [{"metric": "reach", "target": 5000}, {"metric": "engagement_rate", "target": 4.5}]},
        "audience": [{"id": "pemula", "description": "Pemilih pemula", "platforms": ["x", "bluesky"]}],
        "content": contents,
        "monitoring": {"keywords": ["cek DPT"], "collect_every": "6h", "track_for": "7d"},
    }


def write_campaign(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(doc), "utf-8")
    return path
