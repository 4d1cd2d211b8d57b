"""`planner respond`: answer a spike alert with its playbook's standby content, through the normal outbox.

Releasing a standby post (the lifecycle's RELEASE_STANDBY, store.posts.release_standby) clears its
standby flag and makes it due now; its state does not change. An approved one (queued) is then published
by the scheduler like any post: exactly once, paced, audited. One waiting for approval stays there until an
approver (CLI or staff chat) approves it. Each standby post can be released by one response only
(response_posts' key), so a second tap or command publishes nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from planner.errors import PlannerError
from planner.response.playbooks import Playbook, matches
from planner.domain.events import EventCode, event
from planner.store import campaigns, responses

WINDOW = timedelta(hours=1)   # the mentions an alert quotes: its last hour (as planner.monitoring.listen)


class RespondError(PlannerError):
    pass


@dataclass
class Match:
    alert: dict
    playbook: Playbook
    top: list[dict]

    @property
    def content_id(self) -> str:
        return self.playbook.content[0]


Outcome = responses.Opened  # what `respond` did (the store's answer as is)


def top_mentions(db, alert: dict, limit: int = 3) -> list[dict]:
    return responses.alert_mentions(db, alert, window=WINDOW, limit=limit)


def get_alert(db, alert_id: int) -> dict | None:
    return responses.alert(db, alert_id)


def match_alert(db, alert_id: int) -> Match | None:
    """The first playbook of the alert's campaign that the spike calls for, or None."""
    alert = get_alert(db, alert_id)
    if alert is None:
        return None
    campaign = campaigns.get(db, alert["campaign_id"])
    if campaign is None:
        return None
    top = top_mentions(db, alert)
    for playbook in campaign.playbooks:
        if matches(playbook, keyword=alert["keyword"], count=alert["window_count"], baseline=alert["baseline"],
                   mentions=[m["text"] for m in top]):
            return Match(alert, playbook, top)
    return None


def latest_alert_id(db, campaign_id: str, keyword: str) -> int | None:
    return responses.latest_alert_id(db, campaign_id, keyword)


def respond(db, alert_id: int, *, actor: str, now: datetime, content_id: str | None = None,
            via: dict | None = None) -> Outcome:
    """Release the matched standby content of ``alert_id`` on the playbook's channels (see the module)."""
    match = match_alert(db, alert_id)
    if match is None:
        if get_alert(db, alert_id) is None:
            raise RespondError("respond.no_alert", alert=alert_id)
        raise RespondError("respond.no_playbook", alert=alert_id)
    playbook = match.playbook
    content_id = content_id or match.content_id
    if content_id not in playbook.content:
        raise RespondError("respond.content_not_in_playbook", content=content_id, playbook=playbook.id,
                           known=", ".join(playbook.content))
    opened = responses.open(db, alert_id, campaign_id=match.alert["campaign_id"], playbook=playbook.id,
                            content_id=content_id, channels=playbook.channels, actor=actor, now=now, via=via,
                            event=event(EventCode.STANDBY_RELEASED, alert=alert_id, playbook=playbook.id))
    return opened


def response_times(db, response_id: int) -> dict:
    """Spike detected -> alert sent -> requested -> approved -> first and last channel published (UTC)."""
    return responses.times(db, response_id)


def describe(outcome: Outcome) -> str:
    return json.dumps({"response": outcome.response_id, "released": outcome.released, "waiting": outcome.waiting})
