"""Reading campaigns/*.toml: every problem reported with its dotted path, nothing ever raised."""

from __future__ import annotations

import os
import re
import shutil
import string
import struct
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from planner.campaign_files import CONTENT_KEYS, TOP_KEYS, desired_posts, load_campaign
from planner.config import load_config
from planner.i18n import t

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "campaigns"
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)  # before the example campaigns (Feb-Apr 2027)
ALL_CHANNELS = ["kpu_x", "kpu_fb", "kpu_ig", "kpu_mastodon", "kpu_bluesky", "kpu_telegram"]
# An unfilled message parameter; {tanggal}, {hari} and {ke} are words the messages teach, not parameters.
PLACEHOLDER = re.compile(r"\{(?!tanggal\}|hari\}|ke\})[a-z_]+\}")


# --- fixtures and builders ----------------------------------------------------------------------

def _make_config(folder: Path):
    path = folder / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    return load_config(path)


def mp4_file(seconds: float, padding: int = 0) -> bytes:
    """A minimal MP4: ftyp, moov with an 'mvhd' of ``seconds`` (timescale 1000), mdat of ``padding`` bytes."""
    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", 8 + len(body)) + kind + body
    mvhd = bytes(4) + struct.pack(">IIII", 0, 0, 1000, round(seconds * 1000)) + bytes(80)
    return box(b"ftyp", b"mp42" + bytes(4) + b"mp42isom") + box(b"moov", box(b"mvhd", mvhd)) \
        + box(b"mdat", bytes(padding))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A config from config.example.toml and a campaigns/ folder with media files of known sizes."""
    root = tmp_path_factory.mktemp("kerja")
    media = root / "campaigns" / "media"
    media.mkdir(parents=True)
    (media / "poster.jpg").write_bytes(b"\xff\xd8" + b"\0" * 1024)
    (media / "kedua.jpg").write_bytes(b"\xff\xd8" + b"\0" * 2048)
    with open(media / "besar.jpg", "wb") as handle:  # 6 MiB: over X's 5 MiB for images
        handle.write(b"\xff\xd8\xff\xe0")  # media files must start the way their format does
        handle.truncate(6 * 1024 * 1024)
    (media / "dokumen.pdf").write_bytes(b"%PDF-1.4")
    (media / "klip.mp4").write_bytes(mp4_file(10.0, 4000))
    return root


@pytest.fixture(scope="module")
def config(workdir):
    return _make_config(workdir)


def at(day: int, hour: int = 9, minute: int = 0, month: int = 2) -> datetime:
    return datetime(2027, month, day, hour, minute)


def campaign(contents: list[dict], channels=("kpu_x", "kpu_mastodon"), **head) -> dict:
    """A valid campaign in February 2027 around ``contents``."""
    doc = {
        "campaign": {"id": "uji-kampanye", "name": "Kampanye uji", "timezone": "Asia/Jakarta",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": list(channels), **head},
        "goal": {"objective": "Tujuan uji", "kpi": [{"metric": "reach", "target": 1000}]},
        "audience": [{"id": "pemula", "description": "Pemilih pemula"},
                     {"id": "orang-tua", "description": "Orang tua"}],
        "content": contents,
    }
    return doc


def item(content_id: str = "satu", text: str | None = None, when: datetime | None = None, **extra) -> dict:
    # By default each item and each of its repeats has its own text: X and Facebook refuse a text sent twice
    # (see the repeated_text tests below).
    default = f"Halo pemilih pemula, cek DPT ya ({content_id}, ke-{{ke}})."
    return {"id": content_id, "text": default if text is None else text,
            "at": when or at(2), **extra}


def load(workdir: Path, config, doc: dict | str, *, now=NOW, name="uji.toml", published=()):
    path = workdir / "campaigns" / name
    path.write_text(doc if isinstance(doc, str) else tomlkit.dumps(doc), "utf-8")
    return load_campaign(path, config, now=now, published=published)


def found(loaded) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in loaded.problems}


def assert_renders(loaded) -> None:
    """Every problem says what is wrong and how to fix it, fully filled, in both languages."""
    from planner.i18n import set_language

    for lang in ("id", "en"):
        set_language(lang)
        try:
            for problem in loaded.problems:
                for text in (problem.what(), problem.fix()):
                    assert not text.startswith("problem."), text
                    assert not PLACEHOLDER.search(text), (problem, text)
        finally:
            set_language("id")


# --- the example campaigns ----------------------------------------------------------------------

@pytest.mark.parametrize("name, posts", [
    # 6+6+4+3+4 one-off posts, and a Friday reminder on 4 channels 6 times.
    ("cek-dpt-pemilih-pemula.toml", 6 + 6 + 4 + 3 + 4 + 4 * 6),
    # 6+6+4 one-off posts, and a weekly Friday post on 5 channels from 5 Feb to 26 Mar (8 Fridays).
    ("klarifikasi-hoaks.toml", 6 + 6 + 4 + 5 * 8),
])
def test_example_campaigns_are_clean(tmp_path, name, posts):
    config = _make_config(tmp_path)
    loaded = load_campaign(EXAMPLES / name, config, now=NOW)
    assert loaded.problems == []
    assert loaded.ok
    rows = desired_posts(loaded.campaign, EXAMPLES / name, config)
    assert len(rows) == posts
    keys = {(r["content_id"], r["channel"], r["occurrence"]) for r in rows}
    assert len(keys) == len(rows)
    assert all(r["due_at"].tzinfo is not None and r["due_at"].utcoffset() == timedelta(0) for r in rows)
    assert all(Path(m).is_absolute() and Path(m).is_file() for r in rows for m in r["media"])


def test_examples_have_all_five_parts(tmp_path):
    config = _make_config(tmp_path)
    c = load_campaign(EXAMPLES / "klarifikasi-hoaks.toml", config, now=NOW).campaign
    assert c.goal.objective and c.goal.kpis
    assert [a.id for a in c.audiences] == ["warga-grup-wa", "pemilih-muda", "tokoh-masyarakat"]
    assert c.channels == tuple(ALL_CHANNELS)
    assert len(c.content) == 4
    assert c.monitoring.spike_threshold == 2.5 and "hoaks pemilu" in c.monitoring.keywords
    assert c.grace == timedelta(hours=1)


def test_example_variant_and_hashtags_are_rendered(tmp_path):
    config = _make_config(tmp_path)
    file = EXAMPLES / "cek-dpt-pemilih-pemula.toml"
    rows = desired_posts(load_campaign(file, config, now=NOW).campaign, file, config)
    first = {r["channel"]: r for r in rows if r["content_id"] == "ajakan-cek-dpt"}
    assert first["kpu_x"]["text"].startswith("Sudah 17 tahun? Pastikan namamu ada di DPT.")
    assert first["kpu_fb"]["text"].startswith("Sudah 17 tahun atau akan 17 tahun")
    assert first["kpu_fb"]["text"].endswith("#CekDPT #PemilihPemula #KPUDemak")
    assert first["kpu_x"]["due_at"] == datetime(2027, 2, 1, 2, 0, tzinfo=timezone.utc)  # 09:00 WIB
    thread = {r["channel"]: r["thread"] for r in rows if r["content_id"] == "langkah-cek-dpt"}
    assert len(thread["kpu_x"]) == 1 and thread["kpu_fb"] == []


# --- many problems at once ----------------------------------------------------------------------

def test_five_mistakes_give_five_problems_with_their_paths(workdir, config):
    doc = campaign([
        item("satu", when=at(15, month=3)),                          # after the campaign's end
        item("dua", audiences=["pemla"]),                             # no such audience
        item("tiga", variants={"x": {"text": "a" * 300}}),           # too long for X
    ])
    doc["campaign"]["ownr"] = "Humas"                                 # typo of owner
    doc["goal"]["kpi"] = [{"metric": "jangkauan", "target": 1000}]    # not a metric
    loaded = load(workdir, config, doc)
    assert found(loaded) == {
        ("content[1].at", "time_outside_window"),
        ("content[2].audiences[1]", "unknown_audience"),
        ("content[3].variants.x.text", "text_too_long"),
        ("campaign.ownr", "unknown_key"),
        ("goal.kpi[1].metric", "bad_choice"),
    }
    assert len(loaded.problems) == 5
    assert loaded.campaign is None and not loaded.ok
    by_path = {p.path: p for p in loaded.problems}
    assert "'owner'" in by_path["campaign.ownr"].what()
    assert "'pemula'" in by_path["content[2].audiences[1]"].what()
    assert by_path["content[3].variants.x.text"].params["length"] == 300
    assert_renders(loaded)


def test_problems_name_the_file(workdir, config):
    loaded = load(workdir, config, campaign([item(audiences=["x"])]), name="berkas-ini.toml")
    assert all(p.file.endswith("berkas-ini.toml") for p in loaded.problems)


def test_toml_syntax_error_reports_line_and_column(workdir, config):
    text = '[campaign]\nid = "uji"\nname = "tanpa tutup\nstart = 2027-02-01\n'
    loaded = load(workdir, config, text)
    assert [(p.path, p.code) for p in loaded.problems] == [("", "toml_syntax")]
    problem = loaded.problems[0]
    assert problem.params["line"] == 3 and problem.params["col"] > 0
    assert "3" in problem.what() and "3" in problem.fix()
    assert_renders(loaded)


def test_unknown_key_with_did_you_mean(workdir, config):
    loaded = load(workdir, config, campaign([{"id": "satu", "txet": "Halo", "at": at(2)}]))
    assert found(loaded) == {("content[1].txet", "unknown_key"), ("content[1].text", "missing")}
    problem = next(p for p in loaded.problems if p.code == "unknown_key")
    assert problem.params["hint"] == "text"
    assert "'text'" in problem.what()
    assert_renders(loaded)


def test_unknown_top_level_table(workdir, config):
    doc = campaign([item()])
    doc["monitorng"] = {"keywords": ["a"]}
    loaded = load(workdir, config, doc)
    assert found(loaded) == {("monitorng", "unknown_key")}
    assert loaded.problems[0].params["hint"] == "monitoring"


def test_missing_parts_reported_once_each(workdir, config):
    doc = campaign([item()])
    del doc["goal"]
    del doc["campaign"]["name"]
    loaded = load(workdir, config, doc)
    assert found(loaded) == {("goal", "missing"), ("campaign.name", "missing")}


def test_wrong_types_reported_not_raised(workdir, config):
    doc = campaign([item(hashtags="CekDPT", media=5, audiences=[1])])
    doc["campaign"]["channels"] = "kpu_x"  # a single text is accepted as a list of one
    doc["monitoring"] = {"keywords": 3, "spike_threshold": "tinggi", "collect_every": "sering"}
    loaded = load(workdir, config, doc)
    assert found(loaded) == {
        ("content[1].media", "type"), ("content[1].audiences", "type"), ("monitoring.keywords", "type"),
        ("monitoring.spike_threshold", "bad_threshold"), ("monitoring.collect_every", "bad_duration"),
    }
    assert_renders(loaded)


# --- times ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("when", [at(31, 23, 59, month=1), at(1, 0, 0, month=3)])
def test_time_outside_window(workdir, config, when):
    loaded = load(workdir, config, campaign([item(when=when)]))
    assert found(loaded) == {("content[1].at", "time_outside_window")}
    assert "2027-02-01" in loaded.problems[0].what() and "2027-02-28" in loaded.problems[0].what()


@pytest.mark.parametrize("when", [at(1, 0, 0), at(28, 23, 59)])
def test_first_and_last_minute_are_inside(workdir, config, when):
    assert load(workdir, config, campaign([item(when=when)])).problems == []


def test_repeat_starting_after_the_end_is_reported(workdir, config):
    loaded = load(workdir, config, campaign([item(when=at(5, month=3), repeat={"every": "7d"})]))
    assert found(loaded) == {("content[1].at", "time_outside_window")}


def test_repeat_that_never_happens_is_reported(workdir, config):
    # Sunday 28 Feb is the last day; a Monday-only repeat from it has no occurrence at all.
    loaded = load(workdir, config, campaign([item(when=at(28), repeat={"weekdays": ["mon"]})]))
    assert [p.path for p in loaded.problems] == ["content[1].repeat"]
    assert_renders(loaded)


def test_time_in_past(workdir, config):
    now = datetime(2027, 2, 5, tzinfo=timezone.utc)
    doc = campaign([item("satu", when=at(2)), item("dua", when=at(10))])
    loaded = load(workdir, config, doc, now=now)
    assert found(loaded) == {("content[1].at", "time_in_past")}
    assert "2027-02-02 09:00" in loaded.problems[0].what()
    # Already published content may lie in the past.
    assert load(workdir, config, doc, now=now, published={"satu"}).problems == []


def test_time_in_past_looks_at_the_first_occurrence(workdir, config):
    # Anchored on Wednesday 3 Feb, posted on Fridays: on Thursday nothing is in the past yet.
    doc = campaign([item(when=at(3), repeat={"weekdays": ["fri"], "times": 2})])
    assert load(workdir, config, doc, now=datetime(2027, 2, 4, tzinfo=timezone.utc)).problems == []
    loaded = load(workdir, config, doc, now=datetime(2027, 2, 5, 6, tzinfo=timezone.utc))
    assert found(loaded) == {("content[1].at", "time_in_past")}
    assert "2027-02-05 09:00" in loaded.problems[0].what()


def test_time_in_past_uses_the_campaign_zone(workdir, config):
    # 09:00 WIT (Jayapura) is 00:00 UTC: at 00:30 UTC it is past there, not yet past in Jakarta (02:00 UTC).
    now = datetime(2027, 2, 2, 0, 30, tzinfo=timezone.utc)
    assert found(load(workdir, config, campaign([item()], timezone="Asia/Jayapura"), now=now)) == {
        ("content[1].at", "time_in_past")}
    assert load(workdir, config, campaign([item()], timezone="Asia/Jakarta"), now=now).problems == []


def test_datetime_forms(workdir, config):
    doc = campaign([item("satu", when="2027-02-03 10:00"), item("dua", when="besok pagi"),
                    {"id": "tiga", "text": "x", "at": datetime(2027, 2, 3, 9, tzinfo=timezone.utc)},
                    {"id": "empat", "text": "x", "at": date(2027, 2, 3)}])
    loaded = load(workdir, config, doc)
    assert found(loaded) == {("content[2].at", "bad_datetime"), ("content[3].at", "datetime_with_offset"),
                             ("content[4].at", "bad_datetime")}
    assert_renders(loaded)


def test_absurd_years_are_problems_not_crashes(workdir, config):
    doc = campaign([item("satu", when=datetime(1, 1, 1, 0, 0))])
    doc["campaign"]["start"] = date(1, 1, 1)
    doc["campaign"]["end"] = date(9999, 12, 31)
    loaded = load(workdir, config, doc)
    assert loaded.problems and loaded.campaign is None
    assert_renders(loaded)


def test_campaign_dates(workdir, config):
    loaded = load(workdir, config, campaign([item()], start=date(2027, 3, 1), end="kemarin"))
    assert found(loaded) >= {("campaign.end", "bad_date")}
    loaded = load(workdir, config, campaign([item()], start=date(2027, 3, 1)))
    assert ("campaign.end", "end_before_start") in found(loaded)


def test_bad_timezone_in_campaign(workdir, config):
    for zone in ("Asia/Jakrta", "Asia", 7):
        loaded = load(workdir, config, campaign([item()], timezone=zone))
        assert {p.path for p in loaded.problems} == {"campaign.timezone"}, zone


def test_timezone_from_the_campaign_sets_due_times(workdir, config):
    loaded = load(workdir, config, campaign([item()], timezone="Asia/Makassar"))
    rows = desired_posts(loaded.campaign, workdir / "campaigns" / "uji.toml", config)
    assert {r["due_at"] for r in rows} == {datetime(2027, 2, 2, 1, 0, tzinfo=timezone.utc)}


# --- references ----------------------------------------------------------------------------------

def test_unknown_account_with_did_you_mean(workdir, config):
    loaded = load(workdir, config, campaign([item()], channels=["kpu_x", "kpu_mastodn"]))
    assert found(loaded) == {("campaign.channels[2]", "unknown_account")}
    assert "'kpu_mastodon'" in loaded.problems[0].what()
    assert "kpu_telegram" in loaded.problems[0].fix()


def test_content_channel_must_be_a_campaign_channel(workdir, config):
    loaded = load(workdir, config, campaign([item(channels=["kpu_x", "kpu_fb"])]))
    assert found(loaded) == {("content[1].channels[2]", "channel_not_in_campaign")}


def test_duplicate_channel(workdir, config):
    assert found(load(workdir, config, campaign([item()], channels=["kpu_x", "kpu_x"]))) == {
        ("campaign.channels", "duplicate_channel")}


def test_audiences_must_exist(workdir, config):
    loaded = load(workdir, config, campaign([item(audiences=["pemula", "orang-tua", "lansia"])]))
    assert found(loaded) == {("content[1].audiences[3]", "unknown_audience")}


def test_duplicate_ids(workdir, config):
    doc = campaign([item("sama"), item("beda"), item("sama", text="Teks lain untuk ID yang sama")])
    doc["audience"].append({"id": "pemula", "description": "lagi"})
    loaded = load(workdir, config, doc)
    assert found(loaded) == {("content[3].id", "duplicate_id"), ("audience[3].id", "duplicate_id")}
    assert next(p for p in loaded.problems if p.path == "content[3].id").params["first"] == "content[1]"


def test_missing_ids_are_not_also_duplicates(workdir, config):
    loaded = load(workdir, config, campaign([{"text": "a", "at": at(2)}, {"text": "b", "at": at(3)}]))
    assert found(loaded) == {("content[1].id", "missing"), ("content[2].id", "missing")}


def test_bad_slug_link_hashtag(workdir, config):
    loaded = load(workdir, config, campaign([item("Satu Dua", link="cekdptonline", hashtags=["Cek DPT"])]))
    assert found(loaded) == {("content[1].id", "bad_slug"), ("content[1].link", "bad_url"),
                             ("content[1].hashtags[1]", "bad_hashtag")}


def test_without_config_channels_cannot_be_checked(workdir):
    loaded = load(workdir, None, campaign([item()]))
    assert found(loaded) == {("campaign.channels", "no_config")}


def test_file_not_found(workdir, config):
    loaded = load_campaign(workdir / "tidak-ada.toml", config, now=NOW)
    assert found(loaded) == {("", "file_not_found")}


# --- repeats -------------------------------------------------------------------------------------

@pytest.mark.parametrize("repeat, expected", [
    ({"every": "36h"}, {("content[1].repeat.every", "every_whole_days")}),
    ({"every": "7d", "weekdays": ["mon"]}, {("content[1].repeat", "repeat_every_or_weekdays")}),
    ({}, {("content[1].repeat", "repeat_every_or_weekdays")}),
    ({"weekdays": ["senin"]}, {("content[1].repeat.weekdays", "bad_choice")}),
    ({"weekdays": ["monkey"]}, {("content[1].repeat.weekdays", "bad_choice")}),
    ({"weekdays": 5}, {("content[1].repeat.weekdays", "type")}),
    ({"every": "sering"}, {("content[1].repeat.every", "bad_duration")}),
    ({"every": "1d", "times": 0}, {("content[1].repeat.times", "bad_target")}),
    ({"every": "1d", "untill": date(2027, 2, 3)}, {("content[1].repeat.untill", "unknown_key")}),
])
def test_repeat_problems(workdir, config, repeat, expected):
    loaded = load(workdir, config, campaign([item(repeat=repeat)]))
    assert found(loaded) == expected
    assert len(loaded.problems) == len(expected)
    assert_renders(loaded)


def test_repeat_too_many(workdir, config):
    doc = campaign([item(repeat={"every": "1d"})], end=date(2028, 12, 31))
    assert found(load(workdir, config, doc)) == {("content[1].repeat", "repeat_too_many")}


@pytest.mark.parametrize("weekdays", [["fri"], ["Fri"], ["friday"], ["Jumat"]])
def test_weekday_names(workdir, config, weekdays):
    loaded = load(workdir, config, campaign([item(when=at(5), repeat={"weekdays": weekdays, "times": 3})]))
    if weekdays == ["Jumat"]:
        assert found(loaded) == {("content[1].repeat.weekdays", "bad_choice")}
        return
    assert loaded.problems == []
    rows = desired_posts(loaded.campaign, workdir / "campaigns" / "uji.toml", config)
    assert len(rows) == 2 * 3  # two channels, three Fridays
    assert sorted({r["occurrence"] for r in rows}) == [0, 1, 2]


# --- per-platform text and media rules ---------------------------------------------------------

def only(channel: str, **fields) -> dict:
    return campaign([item(channels=[channel], **fields)], channels=ALL_CHANNELS)


@pytest.mark.parametrize("channel, text, length", [
    # X: 280 weighted; a URL counts 23 whatever its length; CJK counts 2.
    ("kpu_x", "a" * 250 + " https://example.com/" + "x" * 100, None),
    ("kpu_x", "a" * 257 + " https://example.com/" + "x" * 100, 281),
    ("kpu_x", "漢" * 140, None),
    ("kpu_x", "漢" * 141, 282),
    ("kpu_x", "a" * 280, None),
    ("kpu_x", "a" * 281, 281),
    # Mastodon: 500 characters, URLs 23.
    ("kpu_mastodon", "a" * 500, None),
    ("kpu_mastodon", "a" * 501, 501),
    ("kpu_mastodon", "a" * 476 + " https://example.com/" + "x" * 100, None),  # 477 + 23
    # Bluesky: 300 graphemes (an emoji with a skin tone is one).
    ("kpu_bluesky", "👍🏽" * 300, None),
    ("kpu_bluesky", "👍🏽" * 301, 301),
])
def test_text_length_per_platform(workdir, config, channel, text, length):
    loaded = load(workdir, config, only(channel, text=text))
    if length is None:
        assert loaded.problems == []
    else:
        assert found(loaded) == {("content[1].text", "text_too_long")}
        assert loaded.problems[0].params["length"] == length
        assert loaded.problems[0].params["channel"] == channel
        assert_renders(loaded)


def test_link_and_hashtags_count_towards_the_length(workdir, config):
    link = "https://cekdptonline.kpu.go.id/" + "p" * 60
    # The link goes after a blank line, as the X adapter sends it: 255 + 2 + 23 = 280.
    assert load(workdir, config, only("kpu_x", text="a" * 255, link=link)).problems == []
    assert found(load(workdir, config, only("kpu_x", text="a" * 256, link=link))) == {
        ("content[1].text", "text_too_long")}
    loaded = load(workdir, config, only("kpu_x", text="a" * 275, hashtags=["CekDPT"]))  # + "\n\n#CekDPT"
    assert found(loaded) == {("content[1].text", "text_too_long")}
    assert loaded.problems[0].params["length"] == 284


def test_same_text_too_long_on_two_platforms(workdir, config):
    doc = campaign([item(text="a" * 400, channels=["kpu_x", "kpu_mastodon", "kpu_bluesky"])],
                   channels=ALL_CHANNELS)
    loaded = load(workdir, config, doc)
    assert sorted(p.params["platform"] for p in loaded.problems) == ["bluesky", "x"]
    assert {p.path for p in loaded.problems} == {"content[1].text"}


def test_variant_for_a_channel_name(workdir, config):
    doc = only("kpu_x", text="a" * 300, variants={"kpu_x": {"text": "pendek"}})
    assert load(workdir, config, doc).problems == []


def test_thread_parts_are_checked(workdir, config):
    loaded = load(workdir, config, only("kpu_x", thread=["baik", "b" * 281]))
    assert found(loaded) == {("content[1].thread[2]", "text_too_long")}
    loaded = load(workdir, config, only("kpu_x", variants={"x": {"text": "ok", "thread": ["c" * 300]}}))
    assert found(loaded) == {("content[1].variants.x.thread[1]", "text_too_long")}
    assert_renders(loaded)


def test_instagram_needs_media(workdir, config):
    loaded = load(workdir, config, only("kpu_ig"))
    assert found(loaded) == {("content[1].media", "media_required")}
    assert_renders(loaded)
    assert load(workdir, config, only("kpu_ig", media=["media/poster.jpg"])).problems == []


def test_media_missing(workdir, config):
    loaded = load(workdir, config, only("kpu_x", media=["media/poster.jpg", "media/tidak-ada.jpg"]))
    assert found(loaded) == {("content[1].media[2]", "media_missing")}
    assert "media/tidak-ada.jpg" in loaded.problems[0].what()


def test_media_missing_does_not_hide_other_problems(workdir, config):
    loaded = load(workdir, config, only("kpu_x", text="a" * 300, media=["media/tidak-ada.jpg"]))
    assert found(loaded) == {("content[1].media[1]", "media_missing"), ("content[1].text", "text_too_long")}


def test_media_too_big(workdir, config):
    loaded = load(workdir, config, only("kpu_x", media=["media/poster.jpg", "media/besar.jpg"]))
    assert found(loaded) == {("content[1].media[2]", "media_too_big")}
    assert "besar.jpg" in loaded.problems[0].what()
    assert_renders(loaded)
    # The same 6 MiB image is fine on Facebook (10 MiB).
    assert load(workdir, config, only("kpu_fb", media=["media/besar.jpg"])).problems == []


def test_media_wrong_type(workdir, config):
    loaded = load(workdir, config, only("kpu_mastodon", media=["media/dokumen.pdf"]))
    assert found(loaded) == {("content[1].media[1]", "media_type")}
    assert "dokumen.pdf" in loaded.problems[0].what()
    assert "jpg" in loaded.problems[0].fix()
    assert_renders(loaded)


def test_media_mixed_and_too_many(workdir, config):
    assert found(load(workdir, config, only("kpu_x", media=["media/poster.jpg", "media/klip.mp4"]))) == {
        ("content[1].media", "media_mixed")}
    five = ["media/poster.jpg", "media/kedua.jpg"] * 2 + ["media/poster.jpg"]
    loaded = load(workdir, config, only("kpu_bluesky", media=five))
    assert found(loaded) == {("content[1].media", "media_too_many")}
    assert_renders(loaded)


def test_variant_media_paths(workdir, config):
    loaded = load(workdir, config, only("kpu_x", media=["media/poster.jpg"],
                                        variants={"x": {"media": ["media/hilang.jpg"]}}))
    assert found(loaded) == {("content[1].variants.x.media[1]", "media_missing")}


@pytest.mark.parametrize("text, code", [
    (" ".join(f"#tag{i}" for i in range(31)), "hashtags_too_many"),
    (" ".join(f"@user{i}" for i in range(21)), "mentions_too_many"),
])
def test_instagram_tag_limits(workdir, config, text, code):
    loaded = load(workdir, config, only("kpu_ig", text=text, media=["media/poster.jpg"]))
    assert found(loaded) == {("content[1].text", code)}
    assert_renders(loaded)


def test_invalid_characters_for_x(workdir, config):
    loaded = load(workdir, config, only("kpu_x", text="Halo \ufffe"))
    assert found(loaded) == {("content[1].text", "text_invalid_chars")}
    assert_renders(loaded)


def test_instagram_media_needs_a_public_base_url(workdir, tmp_path):
    text = (REPO / "config.example.toml").read_text("utf-8").replace(
        'media_base_url = "https://kab-demak.kpu.go.id/media"', "")
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    config = load_config(path)
    loaded = load(workdir, config, only("kpu_ig", media=["media/poster.jpg"]))
    assert found(loaded) == {("content[1].channels", "ig_media_base_url")}
    assert_renders(loaded)


# --- property tests ------------------------------------------------------------------------------

VALID_TEXT = tomlkit.dumps(campaign([item("satu"), item("dua", when=at(3), repeat={"every": "2d", "times": 3})]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_arbitrary_text_never_raises(workdir, config, text):
    loaded = load(workdir, config, text, name="acak.toml")
    assert loaded.campaign is None
    assert loaded.problems


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(VALID_TEXT)), length=st.integers(0, 40), insert=st.text(max_size=30))
def test_damaged_valid_file_never_raises(workdir, config, cut, length, insert):
    text = VALID_TEXT[:cut] + insert + VALID_TEXT[cut + length:]
    loaded = load(workdir, config, text, name="rusak.toml")
    assert (loaded.campaign is None) == bool(loaded.problems)


KNOWN_KEYS = sorted(set(TOP_KEYS) | set(CONTENT_KEYS) | {
    "id", "name", "owner", "timezone", "start", "end", "channels", "grace", "objective", "kpi", "metric",
    "target", "platform", "deadline", "description", "platforms", "every", "weekdays", "until", "times",
    "collect_every", "track_for", "keywords", "spike_threshold", "report_period", "x", "kpu_x"})
scalars = st.one_of(
    st.text(max_size=20), st.integers(-10 ** 20, 10 ** 20), st.floats(allow_nan=False), st.booleans(),
    st.dates(), st.datetimes(), st.datetimes(timezones=st.just(timezone.utc)), st.times(),
    st.sampled_from(["kpu_x", "Asia/Jakarta", "Asia", "7d", "36h", "fri", "media/poster.jpg", "reach"]),
)
structures = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(KNOWN_KEYS) | st.text(string.ascii_lowercase, min_size=1, max_size=6), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.dictionaries(st.sampled_from(TOP_KEYS), structures, max_size=5))
def test_arbitrary_structures_never_raise(workdir, config, data):
    try:
        text = tomlkit.dumps(data)
    except Exception:
        assume(False)
    loaded = load(workdir, config, text, name="struktur.toml")
    assert (loaded.campaign is None) == bool(loaded.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(CONTENT_KEYS), structures, max_size=8))
def test_arbitrary_content_items_never_raise(workdir, config, data):
    doc = campaign([item("baik"), data])
    try:
        text = tomlkit.dumps(doc)
    except Exception:
        assume(False)
    loaded = load(workdir, config, text, name="konten.toml")
    assert (loaded.campaign is None) == bool(loaded.problems)


slugs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
texts = st.text(string.ascii_letters + string.digits + " .,!?'-ÀéñÜ", min_size=1, max_size=200).filter(
    lambda s: s.strip())
safe_channels = ["kpu_x", "kpu_fb", "kpu_mastodon", "kpu_bluesky", "kpu_telegram"]


@st.composite
def valid_campaigns(draw):
    zone = draw(st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]))
    start = draw(st.dates(date(2027, 1, 2), date(2030, 12, 1)))
    end = start + timedelta(days=draw(st.integers(0, 90)))
    channels = draw(st.lists(st.sampled_from(safe_channels), min_size=1, max_size=5, unique=True))
    ids = draw(st.lists(slugs, min_size=1, max_size=6, unique=True))
    contents, expected = [], 0
    for content_id in ids:
        day = start + timedelta(days=draw(st.integers(0, (end - start).days)))
        when = datetime.combine(day, time(draw(st.integers(0, 23)), draw(st.integers(0, 59))))
        # Unique per item and per repeat, as X and Facebook want (repeated_text is tested on its own).
        entry = {"id": content_id, "text": f"{draw(texts)} ({content_id} {{ke}})", "at": when}
        targets = channels
        if draw(st.booleans()):
            targets = draw(st.lists(st.sampled_from(channels), min_size=1, unique=True))
            entry["channels"] = targets
        occurrences = 1
        if draw(st.booleans()):
            every = draw(st.integers(1, 10))
            times = draw(st.none() | st.integers(1, 8))
            entry["repeat"] = {"every": f"{every}d"} | ({"times": times} if times else {})
            occurrences = (end - day).days // every + 1
            if times:
                occurrences = min(occurrences, times)
        expected += occurrences * len(targets)
        contents.append(entry)
    doc = campaign(contents, channels=channels, timezone=zone, start=start, end=end,
                   id=draw(slugs), name=draw(texts))
    return doc, expected


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=valid_campaigns())
def test_valid_campaign_round_trips(workdir, config, generated):
    doc, expected = generated
    loaded = load(workdir, config, doc, name="acak-sah.toml")
    assert loaded.problems == []
    c = loaded.campaign
    assert c.id == doc["campaign"]["id"] and c.name == doc["campaign"]["name"]
    assert [i.id for i in c.content] == [e["id"] for e in doc["content"]]
    assert [i.text for i in c.content] == [e["text"] for e in doc["content"]]
    rows = desired_posts(c, workdir / "campaigns" / "acak-sah.toml", config)
    assert len(rows) == expected
    assert len({(r["content_id"], r["channel"], r["occurrence"]) for r in rows}) == expected
    start, end = c.window()
    assert all(start <= r["due_at"] <= end for r in rows)


def test_remaining_problem_codes(workdir, config):
    doc = campaign([
        item("satu", slot="pagi"),                                    # at and slot
        {"id": "dua", "text": "x", "slot": "next"},                   # slot only: the accounts have no slots
        {"id": "tiga", "text": "x"},                                  # no time at all
        item("empat", text=""),                                       # nothing to post
    ], name="")
    doc["goal"]["kpi"] = [{"metric": "engagement_rate", "target": 150},
                          {"metric": "reach", "target": 10, "deadline": date(2027, 1, 1)}]
    loaded = load(workdir, config, doc)
    assert found(loaded) == {
        ("content[1].slot", "at_and_slot"), ("content[2].slot", "slot_not_configured"),
        ("content[3].at", "no_time"), ("content[4].text", "text_empty"), ("campaign.name", "empty"),
        ("goal.kpi[1].target", "bad_percent"), ("goal.kpi[2].deadline", "deadline_before_start"),
    }
    assert_renders(loaded)
    loaded = load(workdir, config, campaign([item()], timezone="Mars/Olympus"))
    assert found(loaded) == {("campaign.timezone", "bad_timezone")}
    assert_renders(loaded)
    folder = workdir / "campaigns" / "folder.toml"
    folder.mkdir(exist_ok=True)
    loaded = load_campaign(folder, config, now=NOW)
    assert found(loaded) == {("", "file_unreadable")}
    assert_renders(loaded)


def test_duplicate_campaign_problem_renders(workdir, config):
    from planner.campaign_files import Problem

    problem = Problem("b.toml", "campaign.id", "duplicate_campaign", {"value": "sama", "other": "a.toml"})
    assert "sama" in problem.what() and "a.toml" in problem.what()
    assert not PLACEHOLDER.search(problem.fix())


# --- repeated texts and per-occurrence placeholders ----------------------------------------------------

def test_the_same_text_twice_to_x_or_facebook_is_refused(workdir, config):
    weekly = item(text="Sudah cek DPT minggu ini?", repeat={"every": "7d", "times": 3},
                  channels=["kpu_x", "kpu_fb", "kpu_mastodon"])
    loaded = load(workdir, config, campaign([weekly], channels=ALL_CHANNELS))
    assert [(p.path, p.code, p.params["channel"]) for p in loaded.problems] == [
        ("content[1].text", "repeated_text", "kpu_x"), ("content[1].text", "repeated_text", "kpu_fb")]
    assert loaded.problems[0].params["count"] == 3  # Mastodon takes repeats: no problem there
    assert_renders(loaded)
    assert "{tanggal}" in loaded.problems[0].fix()

    poster = item(text="Poster pekan ini", repeat={"every": "7d", "times": 2}, channels=["kpu_fb"],
                  media=["media/poster.jpg"])
    assert "repeated_text" not in {p.code for p in load(workdir, config, campaign([poster], channels=ALL_CHANNELS))
                                   .problems}  # Facebook takes a photo caption again
    twins = [item("satu", text="Info TPS"), item("dua", text="Info TPS", when=at(9))]
    assert found(load(workdir, config, campaign(twins))) == {("content[1].text", "repeated_text"),
                                                             ("content[2].text", "repeated_text")}


def test_placeholders_make_each_occurrence_its_own_text(workdir, config):
    weekly = item(text="Pengingat {hari}, {tanggal} (ke-{ke}): sudah cek DPT?", repeat={"every": "7d", "times": 3},
                  channels=["kpu_x"], thread=["Pekan ke-{ke}: ajak temanmu."])
    loaded = load(workdir, config, campaign([weekly], channels=ALL_CHANNELS))
    assert loaded.problems == []
    rows = desired_posts(loaded.campaign, loaded.file, config)
    assert [r["text"] for r in rows] == [f"Pengingat Selasa, {d} Februari 2027 (ke-{n}): sudah cek DPT?"
                                         for n, d in ((1, 2), (2, 9), (3, 16))]
    assert [r["thread"] for r in rows] == [[f"Pekan ke-{n}: ajak temanmu."] for n in (1, 2, 3)]
    assert len({r["fingerprint"] for r in rows}) == 3


def test_placeholders_count_at_their_longest_and_need_a_known_time(workdir, config):
    # "{tanggal}" can become "30 September 2099": 17 characters, not 9.
    loaded = load(workdir, config, only("kpu_x", text="a" * 263 + " {tanggal}"))
    assert found(loaded) == {("content[1].text", "text_too_long")}
    assert load(workdir, config, only("kpu_x", text="a" * 262 + " {tanggal}")).problems == []
    slot = campaign([{"id": "slot", "text": "Info {tanggal}", "slot": "next", "channels": ["kpu_x"]}],
                    channels=ALL_CHANNELS)
    assert ("content[1].text", "placeholder_needs_time") in found(load(workdir, config, slot))


# --- media files: confined, regular, content as named ----------------------------------------------------

PNG_1X1 = (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde"
           b"\0\0\0\x0cIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82")


@pytest.fixture
def office(tmp_path):
    """A workspace of its own (config.toml, planner.db, campaigns/media/poster.jpg), for links and odd files."""
    config = _make_config(tmp_path)
    (tmp_path / "planner.db").write_bytes(b"SQLite format 3\x00" + b"\0" * 100)
    media = tmp_path / "campaigns" / "media"
    media.mkdir(parents=True)
    shutil.copy(EXAMPLES / "media" / "cek-dpt-poster.jpg", media / "poster.jpg")
    return tmp_path, config


def test_media_outside_the_campaign_folder_and_workspace_are_refused(office, tmp_path_factory):
    root, config = office
    elsewhere = tmp_path_factory.mktemp("luar")
    shutil.copy(EXAMPLES / "media" / "cek-dpt-poster.jpg", elsewhere / "poster.jpg")
    media = root / "campaigns" / "media"
    (media / "config.jpg").symlink_to(root / "config.toml")
    (media / "keluar.jpg").symlink_to(elsewhere / "poster.jpg")
    relative_out = os.path.relpath(elsewhere / "poster.jpg", root / "campaigns")
    names = ["/etc/passwd", relative_out, "media/keluar.jpg", "media/config.jpg", "../planner.db", "media",
             "media/poster.jpg"]
    doc = campaign([item(channels=["kpu_fb"], media=names[:4]),
                    item("dua", channels=["kpu_fb"], when=at(3), media=names[4:])], channels=ALL_CHANNELS)
    loaded = load(root, config, doc)
    media_found = {(p.path, p.code) for p in loaded.problems if p.code.startswith("media_")
                   and p.code not in ("media_type", "media_too_many")}
    assert media_found == {
        ("content[1].media[1]", "media_outside"), ("content[1].media[2]", "media_outside"),
        ("content[1].media[3]", "media_outside"), ("content[1].media[4]", "media_protected"),
        ("content[2].media[1]", "media_protected"), ("content[2].media[2]", "media_not_regular"),
    }
    assert not loaded.ok and loaded.campaign is None   # so `campaign apply` writes nothing
    passwd = next(p for p in loaded.problems if p.path == "content[1].media[1]")
    assert "/etc/passwd" in passwd.what() and str(root.resolve()) in passwd.fix()   # says where media must live
    assert "folder kerja" in passwd.fix() and "config.toml" in passwd.fix()
    assert_renders(loaded)


def test_media_inside_the_workspace_pass_and_are_stored_resolved(office):
    root, config = office
    (root / "bersama").mkdir()
    (root / "bersama" / "logo.png").write_bytes(PNG_1X1)
    (root / "campaigns" / "media" / "lagi.jpg").symlink_to(root / "campaigns" / "media" / "poster.jpg")
    doc = campaign([item(channels=["kpu_fb"], media=["../bersama/logo.png"]),
                    item("dua", channels=["kpu_fb"], when=at(3), media=["media/lagi.jpg"])], channels=ALL_CHANNELS)
    loaded = load(root, config, doc)
    assert loaded.problems == []
    rows = desired_posts(loaded.campaign, loaded.file, config)
    assert [r["media"] for r in rows] == [[str((root / "bersama" / "logo.png").resolve())],
                                          [str((root / "campaigns" / "media" / "poster.jpg").resolve())]]


@pytest.mark.parametrize("name, data, code, words", [
    ("teks.jpg", b"root:x:0:0:root:/root:/bin/bash\n", "media_content_unknown", ("teks.jpg", "JPEG")),
    ("png.jpg", PNG_1X1, "media_content_mismatch", ("PNG", ".png")),
    ("heic.jpg", b"\0\0\0\x18ftypheic" + b"\0" * 40, "media_content_other", ("HEIC", "JPEG")),
    ("foto.png", (EXAMPLES / "media" / "cek-dpt-poster.jpg").read_bytes(), "media_content_mismatch", ("JPEG", ".jpg")),
])
def test_media_content_must_match_its_name(office, name, data, code, words):
    root, config = office
    (root / "campaigns" / "media" / name).write_bytes(data)
    loaded = load(root, config, only("kpu_fb", media=[f"media/{name}"]))
    assert found(loaded) == {("content[1].media[1]", code)}
    message = loaded.problems[0].what() + " " + loaded.problems[0].fix()
    assert all(word in message for word in words), message
    assert_renders(loaded)


def test_variant_media_are_checked_too(office):
    root, config = office
    loaded = load(root, config, only("kpu_fb", media=["media/poster.jpg"],
                                     variants={"x": {"media": ["/etc/hostname"]}}))
    assert found(loaded) == {("content[1].variants.x.media[1]", "media_outside")}


# --- control characters in campaign texts -----------------------------------------------------------------

OSC8 = "\x1b]8;;https://penipu.example\x1b\\klik di sini\x1b]8;;\x1b\\"


@pytest.mark.parametrize("fields, path, position", [
    ({"text": "Cek DPT " + OSC8}, "content[1].text", 9),
    ({"thread": ["Bagian satu.", "Bagian \x1b[2J dua."]}, "content[1].thread[2]", 8),
    ({"link": "https://kpu.go.id/\x1b[31m"}, "content[1].link", 19),
    ({"hashtags": ["CekDPT", "Pemilu\x9b"]}, "content[1].hashtags[2]", 7),
    ({"variants": {"x": {"text": "\x07Versi X"}}}, "content[1].variants.x.text", 1),
    ({"variants": {"x": {"thread": ["ok", "bagian\x7f"]}}}, "content[1].variants.x.thread[2]", 7),
    ({"issue": "Isu\x00"}, "content[1].issue", 4),
], ids=["text-osc8", "thread", "link", "hashtag-c1", "variant-text", "variant-thread", "issue"])
def test_control_characters_are_refused_with_path_and_position(workdir, config, fields, path, position):
    loaded = load(workdir, config, campaign([item(**fields)]))
    problems = [p for p in loaded.problems if p.code == "control_char"]
    assert [(p.path, p.params["position"]) for p in problems] == [(path, position)]
    assert loaded.campaign is None
    what = problems[0].what()
    assert f"ke-{position}" in what and problems[0].params["char"] in what
    # Nothing printed for any problem carries the raw character back to the terminal.
    assert not any(c in p.what() + p.fix() for p in loaded.problems for c in "\x00\x07\x1b\x7f\x9b")
    assert_renders(loaded)


def test_line_breaks_and_tabs_are_text_but_a_lone_carriage_return_is_not(workdir, config):
    assert load(workdir, config, campaign([item(text="Baris satu\r\nBaris dua\n\tberindentasi (ke-{ke})")])
                ).problems == []
    loaded = load(workdir, config, campaign([item(text="Tampak\rterhapus")]))
    assert found(loaded) == {("content[1].text", "control_char")} and loaded.problems[0].params["char"] == "U+000D"


def test_one_rule_for_control_characters():
    """The rule the CSV import applies too: C0, DEL and C1 (Unicode category Cc), but tab and line feed (the
    import turns a cell's CR line breaks into LF first, so a CR is a line break there)."""
    import unicodedata

    from planner.campaign_files import control_char
    from planner.importer import _control_char

    for code in range(0x250):
        char = chr(code)
        refused = unicodedata.category(char) == "Cc" and char not in "\t\n"
        assert (control_char(f"ab{char}x") is not None) == refused, hex(code)
        assert (_control_char(f"ab{char}x") is not None) == (refused and char != "\r"), hex(code)
    assert control_char("ab\x1bc") == (3, "U+001B") and control_char("a\r\nb") is None


def test_a_media_name_with_a_nul_is_reported_not_raised(office):
    root, config = office
    loaded = load(root, config, only("kpu_fb", media=["media/poster\x00.jpg"]))
    assert found(loaded) == {("content[1].media[1]", "control_char"), ("content[1].media[1]", "media_missing")}
    assert_renders(loaded)
