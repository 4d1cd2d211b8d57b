"""From spike to published clarification, against the sandbox: standby content, playbooks, `planner respond`,
and approval from the staff Telegram chat (taps injected into the sandbox as Telegram updates)."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.monitoring.jobs import listen_job
from planner.monitoring.listen import listen
from planner.publishing.dispatcher import Dispatcher
from planner.response.chat import poll_once
from planner.response.respond import respond, response_times
from planner.sandbox import Sandbox
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
from planner.store import approval
from planner.store.campaigns import apply_campaigns
from planner.store.db import open_db

STAFF_CHAT = "-1009876543210"
SARI, BUDI, RINA, STRANGER = 111, 222, 333, 999   # approver, staff, approver (the author), not in [users]
ANSWER_CHANNELS = ["kpu_x", "kpu_mastodon", "kpu_telegram"]
CLARIFICATION = "KLARIFIKASI: kabar bahwa DPT bisa diubah lewat tautan WhatsApp adalah hoaks."

CONFIG_EXTRA = f"""
[approval]
required = true

[users.sari]
role = "approver"
telegram_id = {SARI}
[users.budi]
role = "staff"
telegram_id = {BUDI}
[users.rina]
role = "approver"
telegram_id = {RINA}

[alerts]
telegram_account = "kpu_telegram"
chat_id = "{STAFF_CHAT}"
"""


def campaign_text(start: date, *, response: str | None = None, standby_extra: str = "") -> str:
    playbook = response if response is not None else f"""
[[response]]
id = "hoaks-dpt"
keywords = ["hoaks DPT"]
phrases = ["ubah DPT lewat WhatsApp"]
content = ["klarifikasi-dpt"]
channels = {ANSWER_CHANNELS!r}
"""
    return f"""
[campaign]
id = "siaga-hoaks"
name = "Siaga hoaks pemilu"
timezone = "Asia/Jakarta"
start = {start}
end = {start + timedelta(days=20)}
channels = {ANSWER_CHANNELS!r}

[goal]
objective = "Menjawab hoaks dalam hitungan menit"

[[content]]
id = "klarifikasi-dpt"
issue = "hoaks DPT"
text = "{CLARIFICATION} Cek data Anda hanya di cekdptonline.kpu.go.id"
standby = true
{standby_extra}

[monitoring]
keywords = ["hoaks DPT"]
spike_threshold = 3
{playbook}
""".replace("'", '"')


@pytest.fixture
def office(tmp_path):
    export_sandbox_secrets(os.environ)
    with Sandbox(seed=5, speed=60) as sandbox:
        sandbox.state.natural_burst_rate = 0  # a quiet day: only the injected burst is a spike
        config = load_config(write_sandbox_config(tmp_path, sandbox.base_url, extra=CONFIG_EXTRA))
        db = open_db(config.database, create=True)
        file = tmp_path / "siaga.toml"
        file.write_text(campaign_text(datetime.now(config.timezone).date() - timedelta(days=1)), "utf-8")
        loaded = load_campaign(file, config)
        assert loaded.ok, [(p.path, p.what()) for p in loaded.problems]
        apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                        approval_required=True, actor="rina")
        telegram = next(e for e in sandbox.emulators if e.name == "telegram")
        dispatcher = Dispatcher(config)
        yield config, db, sandbox, telegram, dispatcher
        dispatcher.shutdown(0)


def clarifications(sandbox) -> list[dict]:
    # The staff chat's alert quotes the clarification too: only the public channels count.
    return [p for p in sandbox.state.posts if CLARIFICATION in p["text"] and p["account"] != STAFF_CHAT]


def drain(db, dispatcher, expected: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dispatcher.run_once()
        if db.execute("SELECT COUNT(*) FROM posts WHERE state = 'published'").fetchone()[0] >= expected:
            return
        time.sleep(0.2)


def standby_rows(db) -> list[tuple]:
    return db.execute("SELECT id, channel, state, standby FROM posts ORDER BY id").fetchall()


def raise_spike(config, db, sandbox, dispatcher) -> int:
    listen(config, db, now=datetime.now(timezone.utc))   # the baseline
    sandbox.state.add_burst("hoaks DPT", 40)
    listen_job(config, dispatcher)                        # as `planner run` does: alert, log, staff chat
    return db.execute("SELECT MAX(id) FROM alerts").fetchone()[0]


def test_standby_content_waits_and_is_never_published_on_its_own(office):
    config, db, sandbox, _telegram, dispatcher = office
    rows = standby_rows(db)
    assert [(r[1], r[2], r[3]) for r in rows] == [(c, "pending_approval", 1) for c in ANSWER_CHANNELS]
    # Approved (four eyes: sari, not the author rina) it is ready, yet the scheduler leaves it alone.
    decision = approval.approve(db, [r[0] for r in rows], actor="sari", role="approver", now=datetime.now(timezone.utc))
    assert decision.done == [r[0] for r in rows]
    for _ in range(3):
        dispatcher.run_once()
    assert {r[2] for r in standby_rows(db)} == {"queued"} and clarifications(sandbox) == []


def test_respond_publishes_approved_standby_once_on_every_channel(office):
    config, db, sandbox, _telegram, dispatcher = office
    ids = [r[0] for r in standby_rows(db)]
    approval.approve(db, ids, actor="sari", role="approver", now=datetime.now(timezone.utc))
    alert_id = raise_spike(config, db, sandbox, dispatcher)
    outcome = respond(db, alert_id, actor="budi", now=datetime.now(timezone.utc))
    assert sorted(outcome.queued) == ids and outcome.waiting == []
    assert respond(db, alert_id, actor="budi", now=datetime.now(timezone.utc)).already
    drain(db, dispatcher, 3)
    for _ in range(3):
        dispatcher.run_once()
    published = clarifications(sandbox)
    assert sorted(p["platform"] for p in published) == ["mastodon", "telegram", "x"]
    audit = db.execute("SELECT actor FROM audit_log WHERE action = 'response.request'").fetchall()
    assert audit == [("budi",)]


def test_spike_alert_buttons_and_approval_from_the_chat(office):
    config, db, sandbox, telegram, dispatcher = office
    alert_id = raise_spike(config, db, sandbox, dispatcher)
    detected = datetime.fromisoformat(db.execute("SELECT at FROM alerts WHERE id = ?", [alert_id]).fetchone()[0]
                                      .replace("Z", "+00:00"))
    alert = telegram.messages_to(STAFF_CHAT)[-1]
    assert "LONJAKAN 'hoaks DPT'" in alert["text"] and "klarifikasi-dpt" in alert["text"]
    assert f"planner respond {alert_id}" in alert["text"]
    labels = [b["text"] for b in alert["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Terbitkan klarifikasi", "Abaikan"]
    publish = f"r:{alert_id}:p"
    before = standby_rows(db)

    # A stranger's tap and a staff member's tap change nothing; both are in the audit log, and answered.
    telegram.press(alert, publish, user_id=STRANGER, username="orang_asing")
    telegram.press(alert, publish, user_id=BUDI, first_name="Budi")
    assert poll_once(config, db, timeout=0) == 2
    assert standby_rows(db) == before
    refused = db.execute("SELECT actor, json_extract(detail, '$.reason') FROM audit_log "
                         "WHERE action = 'chat.refused' ORDER BY id").fetchall()
    assert refused == [(f"telegram:{STRANGER}", "unknown_user"), ("budi", "not_approver")]
    assert [a["show_alert"] for a in telegram.updates.answers] == [True, True]

    # The author (an approver) may ask for the answer but cannot approve her own standby item.
    telegram.press(alert, publish, user_id=RINA, first_name="Rina")
    poll_once(config, db, timeout=0)
    assert {(r[2], r[3]) for r in standby_rows(db)} == {("pending_approval", 0)}
    for _ in range(2):
        dispatcher.run_once()
    assert clarifications(sandbox) == []

    # Another approver's press publishes; a second press of the same button publishes nothing more.
    telegram.press(alert, publish, user_id=SARI, first_name="Sari")
    telegram.press(alert, publish, user_id=SARI, first_name="Sari")
    poll_once(config, db, timeout=0)
    drain(db, dispatcher, 3)
    for _ in range(3):
        dispatcher.run_once()
    published = clarifications(sandbox)
    assert sorted(p["platform"] for p in published) == ["mastodon", "telegram", "x"]
    approvers = {r[0] for r in db.execute("SELECT approved_by FROM posts")}
    assert approvers == {"sari"}
    decision = db.execute("SELECT json_extract(detail, '$.via.telegram_id') FROM audit_log "
                          "WHERE action = 'chat.publish' AND actor = 'sari'").fetchall()
    assert decision and decision[0][0] == SARI

    # The published links come back to the chat once.
    poll_once(config, db, timeout=0)
    poll_once(config, db, timeout=0)
    links = [m for m in telegram.messages_to(STAFF_CHAT) if m["text"].startswith("Klarifikasi untuk peringatan")]
    assert len(links) == 1 and "kpu_x:" in links[0]["text"]

    times = response_times(db, db.execute("SELECT id FROM responses").fetchone()[0])
    last = datetime.fromisoformat(times["last_published_at"].replace("Z", "+00:00"))
    print(f"\nspike -> last channel published: {(last - detected).total_seconds():.2f} s ({times})")

    # The monitoring report's "respons cepat" section.
    from planner.reports.model import build_report
    from tests.e2e.helpers import cli

    fast = build_report(db, "siaga-hoaks", now=datetime.now(timezone.utc)).fast_responses
    assert (fast["count"], fast["answered"]) == (1, 1) and fast["responses"][0]["mentions_before"] > 0
    shown = cli("report", "siaga-hoaks", env={"PLANNER_CONFIG": str(config.path)})
    assert shown.exit_code == 0 and "Respons cepat" in shown.output, shown.output


def test_ordinary_pending_post_approved_from_the_chat(office):
    config, db, sandbox, telegram, dispatcher = office
    telegram.say(STAFF_CHAT, "/review", user_id=SARI)
    poll_once(config, db, timeout=0)
    items = [m for m in telegram.messages_to(STAFF_CHAT) if m.get("reply_markup")]
    assert len(items) == 3
    first = items[0]
    data = first["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    telegram.press(first, data, user_id=SARI)
    poll_once(config, db, timeout=0)
    post_id = int(data[2:])
    assert db.execute("SELECT state, approved_by FROM posts WHERE id = ?", [post_id]).fetchone() == ("queued", "sari")


def test_playbooks_are_checked(tmp_path):
    config = load_config(write_sandbox_config(tmp_path, "http://127.0.0.1:9"))
    start = datetime.now(config.timezone).date()

    def problems(text: str) -> set[tuple[str, str]]:
        file = tmp_path / "c.toml"
        file.write_text(text, "utf-8")
        return {(p.path, p.code) for p in load_campaign(file, config).problems}

    assert problems(campaign_text(start)) == set()
    bad = f"""
[[response]]
id = "salah"
content = ["tidak-ada", "klarifikasi-dpt"]
channels = ["kpu_x", "kpu_fb"]
min_ratio = -1
"""
    found = problems(campaign_text(start, response=bad))
    assert ("response[1]", "response_no_trigger") in found
    assert ("response[1].content[1]", "response_unknown_content") in found
    assert ("response[1].channels[2]", "channel_not_in_campaign") in found
    assert ("response[1].min_ratio", "response_bad_ratio") in found
    narrow = campaign_text(start, standby_extra='channels = ["kpu_x"]')
    assert ("response[1].content[1]", "response_channel_not_prepared") in problems(narrow)
    timed = campaign_text(start, standby_extra=f"at = {start + timedelta(days=2)}T09:00:00")
    assert ("content[1].standby", "standby_with_time") in problems(timed)


def test_planner_respond_command_and_campaign_validate(office, tmp_path):
    from tests.e2e.helpers import cli

    config, db, sandbox, _telegram, dispatcher = office
    env = {"PLANNER_CONFIG": str(config.path)}
    checked = cli("campaign", "validate", str(tmp_path / "siaga.toml"), env=env)
    assert checked.exit_code == 0, checked.output
    assert cli("respond", "99", env=env).exit_code != 0
    alert_id = raise_spike(config, db, sandbox, dispatcher)
    result = cli("--as", "budi", "respond", str(alert_id), env=env)
    assert result.exit_code == 0, result.output
    assert "menunggu persetujuan approver" in result.output   # not approved yet: it waits, nothing is sent
    for _ in range(2):
        dispatcher.run_once()
    assert clarifications(sandbox) == []
    again = cli("--as", "budi", "respond", str(alert_id), env=env)
    assert "sudah dijawab" in again.output
    approved = cli("--as", "sari", "approve", "--campaign", "siaga-hoaks", env=env)
    assert approved.exit_code == 0, approved.output
    drain(db, dispatcher, 3)
    assert sorted(p["platform"] for p in clarifications(sandbox)) == ["mastodon", "telegram", "x"]


def test_lists_show_standby_posts_without_trouble(office):
    from tests.e2e.helpers import cli

    config, *_ = office
    env = {"PLANNER_CONFIG": str(config.path)}
    for args in (("queue",), ("status",), ("review",), ("check", "--hours", "24"), ("calendar", "--month"),
                 ("campaign", "show", "siaga-hoaks")):
        result = cli(*args, env=env)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output)
        print(args, result.output[-600:])


def test_one_telegram_id_is_one_user(tmp_path):
    from planner.config import ConfigError

    extra = CONFIG_EXTRA.replace(f"telegram_id = {BUDI}", f"telegram_id = {SARI}")
    with pytest.raises(ConfigError) as refused:
        load_config(write_sandbox_config(tmp_path, "http://127.0.0.1:9", extra=extra))
    assert "telegram_id" in refused.value.render()


def test_reapplying_the_file_keeps_a_released_answer_and_rearms_nothing(office, tmp_path):
    config, db, sandbox, _telegram, dispatcher = office
    file = tmp_path / "siaga.toml"
    alert_id = raise_spike(config, db, sandbox, dispatcher)
    released = respond(db, alert_id, actor="budi", now=datetime.now(timezone.utc)).released
    before = db.execute("SELECT id, due_at, standby, state FROM posts ORDER BY id").fetchall()
    loaded = load_campaign(file, config)
    plans = apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                            approval_required=True, actor="rina")
    assert plans[0].changed == [] and plans[0].added == []
    assert db.execute("SELECT id, due_at, standby, state FROM posts ORDER BY id").fetchall() == before
    approval.approve(db, released, actor="sari", role="approver", now=datetime.now(timezone.utc))
    drain(db, dispatcher, 3)
    assert len(clarifications(sandbox)) == 3
    # A later spike finds no standby content left: nothing is sent twice.
    later = db.execute("INSERT INTO alerts (campaign_id, keyword, at, window_count, baseline, detail) VALUES "
                       "('siaga-hoaks', 'hoaks DPT', ?, 50, 1, 'later') RETURNING id",
                       [datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")]).fetchone()[0]
    db.conn.commit()
    assert respond(db, later, actor="budi", now=datetime.now(timezone.utc)).released == []
    for _ in range(2):
        dispatcher.run_once()
    assert len(clarifications(sandbox)) == 3
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1   # the empty answer is not counted


class _FastSection:
    """The parts of the HTML report's "respons cepat" section a reader sees: texts by id, table rows by class."""

    def __init__(self, text: str):
        from html.parser import HTMLParser

        section = text.split('<section id="fast-responses"', 1)[1].split("</section>", 1)[0]
        self.html = section
        self.by_id: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        ids, rows = self.by_id, self.rows
        state = {"id": None, "row": None, "cell": None}

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                attrs = dict(attrs)
                if attrs.get("id"):
                    state["id"] = attrs["id"]
                    ids[attrs["id"]] = ""
                if tag == "tr" and attrs.get("class"):
                    state["row"] = []
                    rows.setdefault(attrs["class"], []).append(state["row"])
                if tag == "td" and state["row"] is not None:
                    state["cell"] = ""
                if tag == "a":
                    outer.links.append(attrs["href"])

            def handle_endtag(self, tag):
                if tag in ("dd", "p"):
                    state["id"] = None
                if tag == "td" and state["cell"] is not None:
                    state["row"].append(state["cell"].strip())
                    state["cell"] = None
                if tag == "tr":
                    state["row"] = None

            def handle_data(self, data):
                if state["id"]:
                    ids[state["id"]] += data
                if state["cell"] is not None:
                    state["cell"] += data

        outer = self
        parser = Parser(convert_charrefs=True)
        parser.feed(section)
        parser.close()


def test_monitoring_report_has_the_fast_response_section_in_html_and_xlsx(office, tmp_path):
    import openpyxl

    from planner.store.db import parse_utc, utc_iso
    from tests.e2e.helpers import cli

    config, db, sandbox, _telegram, dispatcher = office
    ids = [r[0] for r in standby_rows(db)]
    approval.approve(db, ids, actor="sari", role="approver", now=datetime.now(timezone.utc))
    alert_id = raise_spike(config, db, sandbox, dispatcher)
    respond(db, alert_id, actor="budi", now=datetime.now(timezone.utc))
    drain(db, dispatcher, 3)
    posts = db.execute("SELECT id, channel, url FROM posts WHERE state = 'published' ORDER BY channel").fetchall()
    assert [p[1] for p in posts] == sorted(ANSWER_CHANNELS)
    # Known figures: the clarification out 30 s, 95 s and 200 s after the spike; of the keyword's mentions,
    # 5 in the hour before the answer (the last channel), 2 in the hour after, 1 long before (not counted).
    spike = parse_utc(db.execute("SELECT at FROM alerts WHERE id = ?", [alert_id]).fetchone()[0])
    for (post_id, _channel, _url), seconds in zip(posts, (30, 95, 200)):
        db.execute("UPDATE posts SET published_at = ? WHERE id = ?",
                   [utc_iso(spike + timedelta(seconds=seconds)), post_id])
    answered = spike + timedelta(seconds=200)
    db.execute("DELETE FROM mentions")
    for i, minutes in enumerate((-50, -40, -30, -20, -1, 1, 59, -150)):
        at = utc_iso(answered + timedelta(minutes=minutes))
        db.execute("INSERT INTO mentions (campaign_id, platform, platform_id, keyword, text, author, url, "
                   "created_at, seen_at) VALUES ('siaga-hoaks', 'x', ?, 'hoaks DPT', 'ubah DPT lewat WhatsApp', "
                   "'warga', NULL, ?, ?)", [f"m{i}", at, at])
    db.execute("UPDATE content SET text = text || ' <script>alert(1)</script>' WHERE id = 'klarifikasi-dpt'")
    db.conn.commit()
    env = {"PLANNER_CONFIG": str(config.path)}

    out = tmp_path / "laporan.html"
    shown = cli("report", "siaga-hoaks", "--format", "html", "--out", str(out), env=env)
    assert shown.exit_code == 0, shown.output
    text = out.read_text("utf-8")
    assert "<script" not in text.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert '<a href="#fast-responses">Respons cepat</a>' in text
    section = _FastSection(text)
    assert section.by_id["fast-count"] == "1" and section.by_id["fast-answered"] == "1"
    assert section.by_id["fast-median-first"] == section.by_id["fast-worst-first"] == "30,0 dtk"
    assert section.by_id["fast-median-last"] == section.by_id["fast-worst-last"] == "3,3 mnt"
    [row] = section.rows["fast-row"]
    assert row[0] == f"#{alert_id}" and row[1:3] == ["hoaks DPT", "hoaks-dpt"]
    assert row[3].startswith("klarifikasi-dpt") and CLARIFICATION in row[3] and "<script>alert(1)</script>" in row[3]
    assert "WIB" in row[4]
    assert row[5:] == ["30,0 dtk", "3,3 mnt", "5", "2"]
    channels = section.rows["fast-channel"]
    assert [r[1] for r in channels] == ["kpu_mastodon (mastodon)", "kpu_telegram (telegram)", "kpu_x (x)"]
    assert {r[2] for r in channels} == {"terbit"}
    assert section.links == [p[2] for p in posts] and all(link.startswith("http") for link in section.links)

    book_file = tmp_path / "laporan.xlsx"
    shown = cli("report", "siaga-hoaks", "--format", "xlsx", "--out", str(book_file), env=env)
    assert shown.exit_code == 0, shown.output
    book = openpyxl.load_workbook(book_file)
    assert "Respons cepat" in book.sheetnames
    sheet = book["Respons cepat"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "Respons cepat"
    facts = {r[0]: r[1] for r in rows if r and isinstance(r[0], str) and r[1] is not None and len(
        [v for v in r if v is not None]) == 2}
    assert facts["Lonjakan dijawab"] == 1 and facts["Sudah terbit di semua kanal"] == 1
    assert facts["Median sampai terbit di kanal pertama (detik)"] == 30
    assert facts["Paling lama sampai terbit di kanal pertama (detik)"] == 30
    assert facts["Median sampai terbit di kanal terakhir (detik)"] == 200
    assert facts["Paling lama sampai terbit di kanal terakhir (detik)"] == 200
    header = rows.index(next(r for r in rows if r[0] == "Peringatan" and r[1] == "Kata kunci"))
    names, values = rows[header], rows[header + 1]
    record = dict(zip(names, values))
    assert record["Peringatan"] == alert_id and record["Kata kunci"] == "hoaks DPT"
    assert record["Playbook"] == "hoaks-dpt" and record["Klarifikasi"] == "klarifikasi-dpt"
    assert CLARIFICATION in record["Isi klarifikasi"]
    detected = record["Lonjakan terdeteksi (WIB)"]
    assert isinstance(detected, datetime)
    assert abs((detected - spike.astimezone(config.timezone).replace(tzinfo=None)).total_seconds()) < 1
    assert record["Sampai kanal pertama (detik)"] == 30 and record["Sampai kanal terakhir (detik)"] == 200
    assert record["Penyebutan sejam sebelum"] == 5 and record["Penyebutan sejam sesudah"] == 2
    first_link = header + 5   # blank row, section title, header
    assert rows[first_link - 1][:2] == ["Peringatan", "Akun"]
    links = rows[first_link:first_link + 3]
    assert [r[1] for r in links] == sorted(ANSWER_CHANNELS) and [r[4] for r in links] == [p[2] for p in posts]
    assert all(sheet.cell(first_link + 1 + i, 5).hyperlink.target == p[2] for i, p in enumerate(posts))
    assert all(isinstance(r[5], datetime) for r in links)
