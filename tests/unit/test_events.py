"""Post history details are shown in the user's language; unknown texts (platform errors) as written."""

from zoneinfo import ZoneInfo

import pytest

from planner.i18n import set_language
from planner.i18n.events import _PATTERNS, describe

JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.fixture(autouse=True)
def indonesian():
    set_language("id")
    yield
    set_language("id")


def test_known_details_are_translated_with_local_times():
    assert describe("attempt 3", JAKARTA) == "percobaan ke-3"
    assert describe("released at shutdown, never sent", JAKARTA).startswith("dikembalikan ke antrean")
    shown = describe("requeued by hand (was due 2027-02-01T02:00:00.000Z)", JAKARTA)
    assert "Senin, 1 Februari 2027 09.00 WIB" in shown
    assert describe("pause: Hari berkabung (sari)", JAKARTA) == (
        "ditahan karena penerbitan dihentikan: Hari berkabung (sari)")
    set_language("en")
    assert describe("retry requested", JAKARTA) == "retry requested"
    assert describe("lease expired", JAKARTA).startswith("interrupted while publishing")


def test_platform_texts_and_empty_details_pass_through():
    assert describe("x: 403 You are not allowed to create a Tweet with duplicate content.", JAKARTA).startswith("x: 403")
    assert describe(None, JAKARTA) == "" and describe("", JAKARTA) == ""


def test_every_pattern_has_a_message_in_both_languages():
    from planner.i18n import catalogue

    for _, key in _PATTERNS:
        assert key in catalogue("id") and key in catalogue("en"), key
