"""Reading post history (post_events): one post's story, and what changed after a given event."""

from __future__ import annotations

from typing import Sequence


def of_post(db, post_id: int) -> list[dict]:
    """The post's events, oldest first."""
    return list(db.query("SELECT * FROM post_events WHERE post_id = ? ORDER BY id", [post_id]))


def last_event_id(db) -> int:
    """The newest event's id (0 without any): events after it belong to what happens next."""
    return db.execute("SELECT COALESCE(MAX(id), 0) FROM post_events").fetchone()[0]


def posts_reaching(db, states: Sequence[str], *, after_event: int) -> list[int]:
    """Ids of the posts that entered one of ``states`` in an event after ``after_event``, in id order."""
    marks = ",".join("?" * len(states))
    return [r[0] for r in db.execute(f"SELECT DISTINCT post_id FROM post_events WHERE id > ? AND to_state IN ({marks}) "
                                     "ORDER BY post_id", [after_event, *states])]
