"""Publishing from the command line: every due post in one pass (`planner publish --due`), or one post
now (`planner publish ID --now`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from planner.errors import PlannerError
from planner.services.pausing import paused_reason
from planner.store import outbox, post_history, posts
from planner.store.posts import TransitionRefused

# States a post reaches in a pass that need a person: `planner publish` then exits 1 (for cron and scripts).
# A temporary failure (failed_retryable) is retried by the next pass and does not count.
PASS_PROBLEMS = ("failed", "needs_review", "missed")


@dataclass(frozen=True)
class PublishPass:
    result: object | None   # the dispatcher's PassResult of a --due pass; None for one post published now
    problems: list[int]     # posts that became failed, needs_review or missed in this pass


def publish_due(config, db) -> PublishPass:
    """Everything due now, until nothing due is left."""
    from planner.publishing.dispatcher import Dispatcher

    dispatcher = Dispatcher(config)
    first_event = post_history.last_event_id(db)
    try:
        result = dispatcher.run_once()
    finally:
        dispatcher.shutdown(0)
    return PublishPass(result, post_history.posts_reaching(db, PASS_PROBLEMS, after_event=first_event))


def publish_now(config, db, post_id: int, *, actor: str, now: datetime) -> PublishPass:
    """One queued (or retrying) post becomes due now and is sent at once, through the normal claim.

    Refused when the post does not exist, is not waiting to go out, or publishing is paused.
    """
    from planner.publishing.dispatcher import Dispatcher

    row = posts.get(db, post_id)
    if row is None:
        raise TransitionRefused("post.not_found", id=post_id)
    if row["state"] not in outbox.CLAIMABLE:
        raise TransitionRefused("publish.not_queued", id=post_id, state=row["state"])
    if paused_reason(db) is not None:
        raise PlannerError("publish.paused")
    first_event = post_history.last_event_id(db)
    dispatcher = Dispatcher(config)
    try:
        outbox.bring_forward(db, post_id, now=now, actor=actor)
        claimed = outbox.claim_due(db, owner=dispatcher.owner, now=now, lease=config.lease, limit=1,
                                   only_ids=[post_id])
        if not claimed:
            raise PlannerError("publish.not_claimed", id=post_id)
        dispatcher.send(db, claimed[0])
        dispatcher.reconcile()
    finally:
        dispatcher.shutdown(0)
    return PublishPass(None, post_history.posts_reaching(db, PASS_PROBLEMS, after_event=first_event))
