"""Platform facts at validation: what each platform's documentation says it refuses is refused before
the post is due (Instagram's aspect ratio, Bluesky's text bytes), with the numbers in the message."""

from __future__ import annotations

import struct
from datetime import date, datetime
from pathlib import Path

import pytest
import tomlkit

from planner.campaign_files import load_campaign
from planner.config import load_config
from planner.domain.text_rules import LIMITS, MediaInfo, check_content, text_length
from planner.i18n import set_language, t

REPO = Path(__file__).resolve().parents[2]


def jpeg(width: int, height: int) -> bytes:
    """A JPEG as far as its headers go: SOI, an APP0, then a baseline start-of-frame with the size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + bytes(9)
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


@pytest.fixture
def office(tmp_path):
    config_path = tmp_path / "config.toml"
    config_path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    config_path.chmod(0o600)
    media = tmp_path / "campaigns" / "media"
    media.mkdir(parents=True)
    for name, (w, h) in {"tinggi.jpg": (1080, 1920), "lebar.jpg": (1920, 800), "potret.jpg": (1080, 1350),
                         "lanskap.jpg": (1080, 566), "persegi.jpg": (1080, 1080)}.items():
        (media / name).write_bytes(jpeg(w, h))
    return tmp_path, load_config(config_path)


def validate(office, media: list[str], channel: str = "kpu_ig", text: str = "Cek DPT-mu sekarang."):
    root, config = office
    doc = {
        "campaign": {"id": "uji-rasio", "name": "Uji rasio", "timezone": "Asia/Jakarta",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": [channel]},
        "goal": {"objective": "Tujuan uji", "kpi": [{"metric": "reach", "target": 1000}]},
        "audience": [{"id": "pemula", "description": "Pemilih pemula"}],
        "content": [{"id": "satu", "text": text, "at": datetime(2027, 2, 2, 9), "media": media}],
    }
    path = root / "campaigns" / "uji.toml"
    path.write_text(tomlkit.dumps(doc), "utf-8")
    return load_campaign(path, config, now=datetime(2027, 1, 1).astimezone()).problems


@pytest.mark.parametrize("name, ratio", [("tinggi.jpg", "0.56:1"), ("lebar.jpg", "2.40:1")])
def test_instagram_image_outside_its_ratio_is_refused_at_validation_with_the_ratio(office, name, ratio):
    problems = validate(office, [f"media/{name}"])
    assert [(p.path, p.code) for p in problems] == [("content[1].media[1]", "media_aspect")], problems
    params = problems[0].params
    for lang, words in (("id", "rasionya"), ("en", "a ratio of")):
        set_language(lang)
        message = t("problem.media_aspect.what", **params)
        assert f"{words} {ratio}" in message and "0.80:1" in message and "1.91:1" in message, message
        assert name in message and "kpu_ig" in message, message
    set_language("id")


def test_instagram_ratios_at_the_documented_bounds_pass(office):
    # 4:5 portrait, 1.91:1 landscape (1080 x 566 is 1.908) and square: Meta's own example sizes.
    assert validate(office, ["media/potret.jpg", "media/lanskap.jpg", "media/persegi.jpg"]) == []


def test_the_same_tall_image_is_fine_where_the_platform_has_no_ratio_rule(office):
    assert validate(office, ["media/tinggi.jpg"], channel="kpu_x") == []


def test_instagram_carousel_names_the_image_that_is_off(office):
    problems = validate(office, ["media/persegi.jpg", "media/tinggi.jpg"])
    assert [(p.path, p.code) for p in problems] == [("content[1].media[2]", "media_aspect")]


def test_bluesky_counts_graphemes_and_bytes():
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"  # one grapheme, 25 bytes
    text = family * 130  # 130 graphemes (under 300) but 3,250 bytes (over the lexicon's 3,000)
    assert text_length("bluesky", text) == 130
    problems = check_content("bluesky", text, [])
    assert [(p.code, p.params["bytes"], p.params["limit"]) for p in problems] == [
        ("text_too_many_bytes", 3250, 3000)]
    assert check_content("bluesky", family * 100, []) == []  # 2,500 bytes
    assert [p.code for p in check_content("bluesky", "a" * 301, [])] == ["text_too_long"]


def test_media_info_without_dimensions_is_not_judged_on_shape():
    # A file whose header could not be read is left to the other rules (size, type), not refused for shape.
    assert check_content("instagram", "Teks", [MediaInfo(name="x.jpg", size_bytes=10)]) == []
    assert LIMITS["instagram"]["media"]["image"]["min_aspect"] == pytest.approx(0.8)
