"""Post history is stored as codes with parameters and shown in the reader's language: times in the
reader's zone, a platform's own texts through platform_errors.say."""

from zoneinfo import ZoneInfo

import pytest

from planner.domain.events import SENTENCES, Event, EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.i18n import set_language
from planner.i18n.events import describe, describe_hold, render

JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.fixture(autouse=True)
def indonesian():
    set_language("id")
    yield
    set_language("id")


def test_known_events_are_rendered_with_local_times():
    assert render(event(EventCode.ATTEMPT, n=3), JAKARTA) == "percobaan ke-3"
    assert render(event(EventCode.RELEASED), JAKARTA).startswith("dikembalikan ke antrean")
    shown = render(event(EventCode.REQUEUED, due="2027-02-01T02:00:00.000Z"), JAKARTA)
    assert "Senin, 1 Februari 2027 09.00 WIB" in shown
    assert render(Hold(HoldKind.PAUSE, "Hari berkabung (sari)").event, JAKARTA) == (
        "ditahan karena penerbitan dihentikan: Hari berkabung (sari)")
    set_language("en")
    assert render(event(EventCode.RETRY), JAKARTA) == "retry requested"
    assert render(event(EventCode.LEASE_EXPIRED), JAKARTA).startswith("interrupted while publishing")


def test_platform_texts_and_rows_without_a_code_pass_through():
    error = "x: 403 You are not allowed to create a Tweet with duplicate content."
    assert render(event(EventCode.ERROR, error=error), JAKARTA).startswith("x: 403")
    assert render(event(EventCode.ERROR, error="x: HTTP 503"), JAKARTA) == "x: permintaan ditolak (HTTP 503)"
    assert describe({"code": None, "params": None}, JAKARTA) == "" and describe({}, JAKARTA) == ""


def test_a_platform_summary_inside_an_event_is_said_in_the_readers_words():
    plain = "x: HTTP 503"
    cannot_tell = render(event(EventCode.CANNOT_TELL, detail=plain), JAKARTA)
    assert cannot_tell.startswith("tidak dapat dipastikan sudah terbit atau belum: ")
    assert cannot_tell.endswith(": x: permintaan ditolak (HTTP 503)")  # said again from the catalogue


def test_history_rows_render_in_both_languages():
    row = {"code": "requeued", "params": '{"due": "2027-02-01T02:00:00.000Z"}', "detail": "ignored text"}
    held = {"hold_kind": "reconnect", "hold_detail": "kpu_x", "hold_reason": "ignored text"}
    standby = {"code": "standby_released", "params": '{"alert": 4, "playbook": "hoaks"}'}
    assert describe(row, JAKARTA) == "dimasukkan lagi ke antrean oleh petugas (jadwal semula " \
                                     "Senin, 1 Februari 2027 09.00 WIB)"
    assert describe_hold(held, JAKARTA) == "akun perlu disambungkan ulang: planner account connect kpu_x"
    assert describe(standby, JAKARTA) == "konten siaga dilepas: jawaban untuk peringatan #4 (playbook hoaks)"
    set_language("en")
    assert describe(row, JAKARTA) == "queued again by staff (was due Monday, 1 February 2027 09:00 WIB)"
    assert describe_hold(held, JAKARTA) == "the account must be connected again: planner account connect kpu_x"
    assert describe(standby, JAKARTA) == "standby released: answer to alert 4 (playbook hoaks)"
    assert describe_hold({"hold_kind": None}, JAKARTA) == ""


def test_every_code_has_a_message_in_both_languages_and_an_english_sentence():
    from planner.i18n import catalogue

    for code in EventCode:
        assert code in SENTENCES, code
        if code is not EventCode.ERROR:  # shown as the platform (or the problem) said it
            assert f"event.{code.value}" in catalogue("id") and f"event.{code.value}" in catalogue("en"), code


def test_the_stored_sentence_is_the_english_of_the_event():
    assert event(EventCode.ATTEMPT, n=2).sentence == "attempt 2"
    assert Hold(HoldKind.BLACKOUT, "Hari tenang").event.sentence == "blackout: Hari tenang"
    assert event(EventCode.ERROR, error="x: {braces} kept").sentence == "x: {braces} kept"
    assert Event.stored("attempt", '{"n": 2}') == event(EventCode.ATTEMPT, n=2)
    assert Event.stored(None, None) is None
