"""X pay-per-use cost (issue 13, item 5): the report's estimated X cost for a workspace with known X posts, and
listening that stops asking X for mentions once the day's reads reach [costs.x] daily_read_budget."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console

from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.i18n import t
from planner.i18n.dates import format_number
from planner.monitoring.listen import X_READS_SETTING, listen
from planner.platforms.x_cost import x_prices
from planner.reports.write import write_report
from planner.sandbox import Sandbox
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
from planner.store.campaigns import apply_campaigns
from planner.store.db import open_db
from planner.store.outbox import get_setting

CAMPAIGN = "uji-biaya"


def _campaign(first: datetime) -> str:
    def at(i: int) -> str:
        return (first + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S")

    day = first.date()
    return f"""
[campaign]
id = "{CAMPAIGN}"
name = "Uji biaya X"
timezone = "Asia/Jakarta"
start = {day - timedelta(days=1)}
end = {day + timedelta(days=10)}
channels = ["kpu_x", "kpu_mastodon"]

[goal]
objective = "Menguji biaya"
[[goal.kpi]]
metric = "posts_published"
target = 8

[[content]]
id = "polos"
text = "Ayo cek DPT sekarang juga"
at = {at(1)}

[[content]]
id = "tautan"
text = "Cek DPT di situs resmi"
link = "https://cekdptonline.kpu.go.id"
at = {at(2)}

[[content]]
id = "utas"
text = "Utas tentang cek DPT"
thread = ["Bagian kedua tanpa tautan", "Bagian ketiga: https://kpu.go.id"]
at = {at(3)}

[[content]]
id = "batal"
text = "Kiriman yang dibatalkan https://kpu.go.id"
at = {at(4)}

[monitoring]
keywords = ["cek DPT"]
"""


def _workspace(tmp_path, base_url: str, extra: str = ""):
    config = load_config(write_sandbox_config(tmp_path, base_url, extra=extra))
    db = open_db(config.database, create=True)
    file = tmp_path / "biaya.toml"
    file.write_text(_campaign(datetime.now(config.timezone) + timedelta(hours=1)), "utf-8")
    loaded = load_campaign(file, config)
    assert loaded.ok, loaded.problems
    apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                    approval_required=False, actor="test")
    return config, db


def _known_outcomes(db) -> None:
    """One X post out, one canceled (a canceled post costs nothing); the rest stay planned."""
    db.execute("UPDATE posts SET state = 'published', published_at = due_at, url = 'https://x.com/i/1' "
               "WHERE campaign_id = ? AND platform = 'x' AND content_id = 'polos'", [CAMPAIGN])
    db.execute("UPDATE posts SET state = 'canceled' WHERE campaign_id = ? AND platform = 'x' "
               "AND content_id = 'batal'", [CAMPAIGN])


@pytest.mark.parametrize("extra, usd, post, post_with_link", [
    ("", 0.445, 0.015, 0.2),  # X's published prices: 3 posts at 0.015 + 2 with a link at 0.200
    ("[costs.x]\npost = 0.02\npost_with_link = 0.1\n", 0.26, 0.02, 0.1),  # the office's own prices
])
def test_report_shows_the_estimated_x_cost(tmp_path, extra, usd, post, post_with_link):
    config, db = _workspace(tmp_path, "http://127.0.0.1:9", extra)
    _known_outcomes(db)
    now = datetime.now(timezone.utc)
    prices = x_prices(config)
    out = write_report(db, CAMPAIGN, fmt="json", now=now, out=tmp_path / "r.json", prices=prices)
    cost = json.loads(out.read_text("utf-8"))["x_cost"]
    # polos (published) 1, tautan 1 with a link, utas 3 parts of which the last has a link; batal canceled;
    # the Mastodon posts are not X's.
    assert cost == {"posts": 5, "with_link": 2, "usd": usd, "post": post, "post_with_link": post_with_link}

    for lang, title in (("id", "Perkiraan biaya X"), ("en", "Estimated X cost")):
        from planner.i18n import get_language, set_language

        before = get_language()
        set_language(lang)
        try:
            console = Console(width=400, color_system=None, record=True)
            write_report(db, CAMPAIGN, fmt="text", now=now, console=console, prices=prices)
            text = console.export_text()
            assert title in text
            assert t("x_cost.report_line", usd=format_number(usd, decimals=2), posts="5", with_link="2",
                     post=format_number(post, decimals=3),
                     post_with_link=format_number(post_with_link, decimals=3)) in " ".join(text.split())
        finally:
            set_language(before)


def test_report_without_x_posts_has_no_x_cost(tmp_path):
    config, db = _workspace(tmp_path, "http://127.0.0.1:9")
    db.execute("UPDATE posts SET state = 'canceled' WHERE campaign_id = ? AND platform = 'x'", [CAMPAIGN])
    out = write_report(db, CAMPAIGN, fmt="json", now=datetime.now(timezone.utc), out=tmp_path / "r.json")
    assert json.loads(out.read_text("utf-8"))["x_cost"] == {}


def test_listening_on_x_stops_at_the_daily_budget(tmp_path, caplog):
    export_sandbox_secrets(os.environ)
    with Sandbox(seed=5) as sandbox:
        # Two posts read at the default 0.005 each spend the budget.
        config, db = _workspace(tmp_path, sandbox.base_url, "[costs.x]\ndaily_read_budget = 0.01\n")
        sandbox.state.add_burst("cek DPT", 20)
        # The start of this hour: the listens 5 and 10 minutes on stay on today's budget even at 23:55 UTC.
        now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        first = listen(config, db, now=now)
        assert set(first.searched) == {"kpu_x", "kpu_mastodon"}, first.errors
        assert not first.notices
        reads = json.loads(get_setting(db, X_READS_SETTING))
        assert reads["day"] == now.date().isoformat() and reads["reads"] >= 2

        caplog.set_level(logging.WARNING, logger="planner.listen")
        second = listen(config, db, now=now + timedelta(minutes=5))
        assert second.searched == ["kpu_mastodon"]  # X is not asked again today; Mastodon costs nothing
        assert len(second.notices) == 1 and "daily_read_budget" in second.notices[0]
        assert "dihentikan" in second.notices[0]  # Indonesian by default
        assert [r for r in caplog.records if "daily_read_budget" in r.getMessage()]
        assert json.loads(get_setting(db, X_READS_SETTING))["reads"] == reads["reads"]  # nothing more read

        third = listen(config, db, now=now + timedelta(minutes=10))
        assert third.searched == ["kpu_mastodon"] and not third.notices  # said once

        tomorrow = listen(config, db, now=now + timedelta(days=1))
        assert "kpu_x" in tomorrow.searched  # a new day, a new budget


def test_a_zero_budget_means_no_listening_on_x(tmp_path):
    export_sandbox_secrets(os.environ)
    with Sandbox(seed=5) as sandbox:
        config, db = _workspace(tmp_path, sandbox.base_url, "[costs.x]\ndaily_read_budget = 0\n")
        result = listen(config, db, now=datetime.now(timezone.utc))
        assert result.searched == ["kpu_mastodon"]
        assert result.notices == [t("x_cost.listen_budget_zero")]
        assert get_setting(db, X_READS_SETTING) is not None  # the notice is remembered for the day


def test_html_and_xlsx_reports_show_the_estimated_x_cost(tmp_path):
    import html as html_lib
    import re

    import openpyxl

    config, db = _workspace(tmp_path, "http://127.0.0.1:9", "[costs.x]\npost = 0.02\npost_with_link = 0.1\n")
    _known_outcomes(db)
    now = datetime.now(timezone.utc)
    prices = x_prices(config)
    line = t("x_cost.report_line", usd=format_number(0.26, decimals=2), posts="5", with_link="2",
             post=format_number(0.02, decimals=3), post_with_link=format_number(0.1, decimals=3))

    page = write_report(db, CAMPAIGN, fmt="html", now=now, out=tmp_path / "r.html", prices=prices).read_text("utf-8")
    assert 'id="x-cost"' in page and "Perkiraan biaya X" in page
    shown = re.search(r'<p id="x-cost-line">(.*?)</p>', page)
    assert shown and html_lib.unescape(shown.group(1)) == line
    assert re.search(r'<dd id="x-cost-usd">US\$ 0,26</dd>', page)

    book = openpyxl.load_workbook(write_report(db, CAMPAIGN, fmt="xlsx", now=now, out=tmp_path / "r.xlsx",
                                               prices=prices))
    rows = [tuple(c for c in row if c is not None) for row in book["Ringkasan"].iter_rows(values_only=True)]
    assert ("Perkiraan biaya X",) in rows
    assert ("Perkiraan biaya (US$)", 0.26) in rows and ("Kiriman di X", 5) in rows
    assert ("Kiriman bertautan", 2) in rows and ("Harga per kiriman bertautan (US$)", 0.1) in rows
    assert (line,) in rows


def test_html_and_xlsx_without_x_posts_have_no_x_cost(tmp_path):
    import openpyxl

    config, db = _workspace(tmp_path, "http://127.0.0.1:9")
    db.execute("UPDATE posts SET state = 'canceled' WHERE campaign_id = ? AND platform = 'x'", [CAMPAIGN])
    now = datetime.now(timezone.utc)
    page = write_report(db, CAMPAIGN, fmt="html", now=now, out=tmp_path / "r.html").read_text("utf-8")
    assert 'id="x-cost"' not in page
    book = openpyxl.load_workbook(write_report(db, CAMPAIGN, fmt="xlsx", now=now, out=tmp_path / "r.xlsx"))
    assert "Perkiraan biaya X" not in [c for row in book["Ringkasan"].iter_rows(values_only=True) for c in row]
