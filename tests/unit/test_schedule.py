"""Schedule rules: one-off times and repeats in local wall time, converted to UTC one by one."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.domain.campaign import Repeat
from planner.domain.schedule import MAX_OCCURRENCES, TooManyOccurrences, local_occurrences, to_utc

UTC = timezone.utc
ZONES = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Europe/Berlin", "Australia/Sydney"]


def exists(local: datetime, zone: ZoneInfo) -> bool:
    """False for a wall time skipped by a DST jump (it does not survive a round trip)."""
    return to_utc(local, zone).astimezone(zone).replace(tzinfo=None) == local


# --- to_utc ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("zone, utc_hour", [("Asia/Jakarta", 2), ("Asia/Makassar", 1), ("Asia/Jayapura", 0)])
def test_indonesian_zones(zone, utc_hour):
    assert to_utc(datetime(2027, 2, 1, 9, 0), ZoneInfo(zone)) == datetime(2027, 2, 1, utc_hour, 0, tzinfo=UTC)


def test_to_utc_crosses_the_year_backwards():
    assert to_utc(datetime(2027, 1, 1, 5, 0), ZoneInfo("Asia/Jayapura")) == datetime(2026, 12, 31, 20, 0, tzinfo=UTC)


def test_to_utc_follows_dst():
    berlin = ZoneInfo("Europe/Berlin")
    assert to_utc(datetime(2027, 1, 15, 9, 0), berlin) == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert to_utc(datetime(2027, 7, 15, 9, 0), berlin) == datetime(2027, 7, 15, 7, 0, tzinfo=UTC)


# --- repeats: examples ------------------------------------------------------------------------------

def test_no_repeat_is_one_occurrence():
    first = datetime(2027, 2, 1, 9, 0)
    assert local_occurrences(first, None, date(2027, 3, 1)) == [first]


def test_every_seven_days_until_inclusive():
    found = local_occurrences(datetime(2027, 2, 5, 15, 0), Repeat(every_days=7, until=date(2027, 3, 26)),
                              date(2027, 4, 30))
    assert [d.date() for d in found] == [date(2027, 2, 5) + timedelta(days=7 * i) for i in range(8)]
    assert found[-1] == datetime(2027, 3, 26, 15, 0)
    assert all(d.time() == time(15, 0) for d in found)


def test_campaign_end_cuts_a_later_until():
    found = local_occurrences(datetime(2027, 2, 1, 9, 0), Repeat(every_days=1, until=date(2027, 12, 31)),
                              date(2027, 2, 3))
    assert found == [datetime(2027, 2, d, 9, 0) for d in (1, 2, 3)]


def test_times_limits_the_count():
    found = local_occurrences(datetime(2027, 2, 5, 12, 0), Repeat(weekdays=(4,), times=6), date(2027, 3, 31))
    assert found == [datetime(2027, 2, 5, 12, 0) + timedelta(days=7 * i) for i in range(6)]


def test_weekdays_across_month_and_year_ends():
    # Monday and Thursday from Tuesday 2026-12-29 to 2027-01-12.
    found = local_occurrences(datetime(2026, 12, 29, 8, 30), Repeat(weekdays=(0, 3)), date(2027, 1, 12))
    assert [d.date() for d in found] == [date(2026, 12, 31), date(2027, 1, 4), date(2027, 1, 7),
                                         date(2027, 1, 11)]
    assert {d.weekday() for d in found} == {0, 3}


def test_leap_day_is_stepped_over_correctly():
    found = local_occurrences(datetime(2028, 2, 27, 7, 0), Repeat(every_days=1, times=4), date(2028, 3, 31))
    assert [d.date() for d in found] == [date(2028, 2, 27), date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1)]


def test_cap_allows_exactly_cap_and_refuses_one_more():
    first = datetime(2027, 1, 1, 9, 0)
    assert len(local_occurrences(first, Repeat(every_days=1, times=10), date(2030, 1, 1), cap=10)) == 10
    assert len(local_occurrences(first, Repeat(every_days=1), first.date() + timedelta(days=9), cap=10)) == 10
    with pytest.raises(TooManyOccurrences):
        local_occurrences(first, Repeat(every_days=1), first.date() + timedelta(days=10), cap=10)


def test_default_cap_catches_a_typo():
    with pytest.raises(TooManyOccurrences):
        local_occurrences(datetime(2027, 1, 1, 9, 0), Repeat(every_days=1), date(2029, 1, 1))
    assert MAX_OCCURRENCES >= 366  # a daily post for a whole (leap) year is allowed


def test_occurrence_on_the_last_possible_day_does_not_overflow():
    found = local_occurrences(datetime(9999, 12, 30, 9, 0), Repeat(every_days=1), date(9999, 12, 31))
    assert [d.date() for d in found] == [date(9999, 12, 30), date(9999, 12, 31)]


def test_berlin_spring_forward_keeps_the_wall_clock():
    berlin = ZoneInfo("Europe/Berlin")
    found = local_occurrences(datetime(2027, 3, 26, 9, 0), Repeat(every_days=1, times=4), date(2027, 4, 30))
    utc = [to_utc(d, berlin) for d in found]
    assert [u.hour for u in utc] == [8, 8, 7, 7]  # 09:00 CET, then 09:00 CEST from 28 March
    assert all(u.astimezone(berlin).hour == 9 for u in utc)


# --- repeats: properties ---------------------------------------------------------------------------

def expected_count(first: datetime, repeat: Repeat, last_day: date) -> int:
    """Counted the slow, obvious way."""
    end = min(d for d in (repeat.until, last_day) if d is not None)
    count, day = 0, first.date()
    while day <= end:
        if repeat.every_days:
            hit = (day - first.date()).days % repeat.every_days == 0
        else:
            hit = day.weekday() in repeat.weekdays
        count += hit
        day += timedelta(days=1)
    return count if repeat.times is None else min(count, repeat.times)


firsts = st.builds(
    lambda day, hour, minute: datetime.combine(day, time(hour, minute)),
    # Month and year ends are where stepping by days goes wrong: weight the days near them.
    st.one_of(st.dates(date(2026, 1, 1), date(2031, 12, 31)),
              st.builds(lambda y, m, back: date(y, m, 1) - timedelta(days=back),
                        st.integers(2026, 2031), st.integers(1, 12), st.integers(0, 3))),
    st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))
repeats = st.one_of(
    st.builds(lambda n, until, times: Repeat(every_days=n, until=until, times=times),
              st.integers(1, 40), st.none() | st.integers(0, 200), st.none() | st.integers(1, 60)),
    st.builds(lambda days, until, times: Repeat(weekdays=tuple(sorted(days)), until=until, times=times),
              st.sets(st.integers(0, 6), min_size=1), st.none() | st.integers(0, 200), st.none() | st.integers(1, 60)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=firsts, repeat=repeats, span=st.integers(0, 200), zone_name=st.sampled_from(ZONES))
def test_repeat_properties(first, repeat, span, zone_name):
    if repeat.until is not None:  # `until` as days after the first occurrence (may be before it)
        repeat = Repeat(every_days=repeat.every_days, weekdays=repeat.weekdays,
                        until=first.date() + timedelta(days=repeat.until - 5), times=repeat.times)
    last_day = first.date() + timedelta(days=span)
    zone = ZoneInfo(zone_name)
    found = local_occurrences(first, repeat, last_day)

    assert len(found) == expected_count(first, repeat, last_day)
    assert found == sorted(set(found))
    end = min(d for d in (repeat.until, last_day) if d is not None)
    for local in found:
        assert first <= local and local.date() <= end
        assert local.time() == first.time()
        if repeat.weekdays:
            assert local.weekday() in repeat.weekdays
        else:
            assert (local.date() - first.date()).days % repeat.every_days == 0
    # The same wall-clock time in the zone for every occurrence, whatever the offset does.
    utc = [to_utc(local, zone) for local in found]
    assert utc == sorted(utc) and len(set(utc)) == len(utc)
    for local, moment in zip(found, utc):
        back = moment.astimezone(zone).replace(tzinfo=None)
        if exists(local, zone):
            assert back == local
        else:  # a wall time skipped by a spring-forward jump goes out just after the jump
            assert timedelta(0) < back - local <= timedelta(hours=1)
    if zone_name.startswith("Asia/"):  # no DST in Indonesia: occurrences are whole days apart in UTC too
        for a, b in zip(utc, utc[1:]):
            assert (b - a) % timedelta(days=1) == timedelta(0)


@settings(max_examples=60, deadline=None)
@given(first=firsts, n=st.integers(1, 3), extra=st.integers(1, 30))
def test_cap_raises_past_the_cap_only(first, n, extra):
    cap = 20
    fits = first.date() + timedelta(days=n * (cap - 1))
    assert len(local_occurrences(first, Repeat(every_days=n), fits, cap=cap)) == cap
    with pytest.raises(TooManyOccurrences):
        local_occurrences(first, Repeat(every_days=n), fits + timedelta(days=n * extra), cap=cap)
    # `times` below the cap keeps a long range harmless.
    assert len(local_occurrences(first, Repeat(every_days=n, times=cap), fits + timedelta(days=999),
                                 cap=cap)) == cap
