"""Platform error summaries said in the user's language (planner/i18n/platform_errors.py): the adapters' English
summaries, as they word them, come out in Indonesian with the platform's own words kept; unknown text is kept."""

from __future__ import annotations

import pytest

from planner.i18n import set_language
from planner.i18n.platform_errors import say, say_listed

CASES = [
    ("telegram: bot token rejected (Unauthorized); set a new one for account 'kpu_telegram'",
     "telegram: token bot ditolak (Unauthorized); simpan token bot yang baru untuk akun kpu_telegram"),
    ("x: could not connect (ConnectionError)", "x: tidak bisa tersambung (ConnectionError)"),
    ("x: server error 503 on publish: Service Unavailable",
     "x: gangguan di server platform, kode 503 (publish: Service Unavailable)"),
    ("mastodon: server error 502: Bad Gateway", "mastodon: gangguan di server platform, kode 502 (Bad Gateway)"),
    ("x: rate limited on publish; retry in 30 s", "x: batas laju permintaan tercapai (publish); dicoba lagi dalam 30 dtk"),
    ("facebook: temporary error: (#2) Service temporarily unavailable",
     "facebook: gangguan sementara ((#2) Service temporarily unavailable)"),
    ("x: the same text was already posted on this account and X refuses duplicate tweets (duplicate content)",
     "x: teks yang sama persis sudah pernah diunggah di akun ini dan X menolak unggahan kembar (duplicate content)"),
    ("x: cannot read image poster.jpg: Permission denied", "berkas media poster.jpg tidak bisa dibaca (Permission denied)"),
    ("instagram: media still processing (IN_PROGRESS) after 60 s",
     "instagram: media masih diproses platform setelah 60 dtk"),
]


@pytest.fixture(autouse=True)
def indonesian():
    set_language("id")
    yield
    set_language("id")


@pytest.mark.parametrize("summary, said", CASES, ids=[c[0][:40] for c in CASES])
def test_known_summaries_are_said_in_indonesian(summary, said):
    assert said in say(summary)


def test_english_keeps_the_meaning_and_unknown_text_is_kept():
    set_language("en")
    assert say(CASES[0][0]).startswith("telegram: bot token rejected (Unauthorized); set a new one")
    set_language("id")
    assert say("telegram: Bad Request: chat not found") == "telegram: Bad Request: chat not found"
    assert say("") == "" and say(None) == ""


def test_a_listed_error_keeps_its_account():
    assert say_listed("kpu_x: x: could not connect (ConnectError)").startswith("kpu_x: x: tidak bisa tersambung")
    assert say_listed("kpu_x: something else") == "kpu_x: something else"
