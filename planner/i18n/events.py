"""Post history and holds in the reader's language.

History is stored as an event code with parameters (planner.domain.events); each code has a message
``event.<code>`` in the catalogue. Times among the parameters (UTC) are shown in the reader's zone,
and a platform's own text is said through platform_errors.say.
"""

from __future__ import annotations

from typing import Mapping

from planner.domain.events import PLATFORM_TEXT_PARAMS, TIME_PARAMS, Event, EventCode
from planner.domain.post import Hold, HoldKind
from planner.i18n import t
from planner.i18n.platform_errors import say


def render(what: Event, zone) -> str:
    """One event as the reader should read it."""
    params = dict(what.params)
    for name in TIME_PARAMS & params.keys():
        params[name] = _moment(params[name], zone)
    for name in PLATFORM_TEXT_PARAMS & params.keys():
        params[name] = say(params[name])
    if what.code is EventCode.ERROR:
        return params["error"]
    return t(f"event.{what.code.value}", **params)


def describe(row: Mapping, zone) -> str:
    """A stored history row (``post_events``: code, params) as the reader should read it."""
    what = Event.stored(row.get("code"), row.get("params"))
    return render(what, zone) if what is not None else ""


def describe_hold(row: Mapping, zone) -> str:
    """Why a post is held (``posts``: hold_kind, hold_detail), or "" when it is not."""
    if not row.get("hold_kind"):
        return ""
    return render(Hold(HoldKind(row["hold_kind"]), row.get("hold_detail") or "").event, zone)


def _moment(value: str, zone) -> str:
    from planner.i18n.dates import format_moment
    from planner.domain.timefmt import parse_utc

    try:
        return format_moment(parse_utc(value), zone)
    except (TypeError, ValueError):
        return str(value)
