"""The audit log: who did what and when, append-only and hash-chained.

Each row's hash covers its own fields and the previous row's hash, so editing or deleting a
row breaks the chain from there on, and `planner audit --verify` says where. Rows are written
inside the same transaction as the change they describe (callers hold BEGIN IMMEDIATE), which
also serialises the chain: two processes can never both extend it from the same row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

GENESIS = "0" * 64


def _digest(previous: str, at: str, actor: str, action: str, subject: str, detail: str) -> str:
    payload = json.dumps([previous, at, actor, action, subject, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(conn, *, at: str, actor: str, action: str, subject: str = "", detail: dict | str | None = None) -> None:
    """Append one entry. Call inside the transaction that makes the change."""
    if not conn.in_transaction:
        raise RuntimeError("audit.record must run inside the change's transaction")
    text = detail if isinstance(detail, str) else json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
    row = conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    previous = row[0] if row else GENESIS
    conn.execute("INSERT INTO audit_log (at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 [at, actor, action, subject, text, previous, _digest(previous, at, actor, action, subject, text)])


@dataclass(frozen=True)
class Break:
    id: int
    reason: str  # "hash" (the row was changed), "link" (a row before it was removed or changed)


def verify(db) -> tuple[int, list[Break]]:
    """Walk the chain; returns (rows checked, where it breaks)."""
    previous = GENESIS
    breaks: list[Break] = []
    count = 0
    for row_id, at, actor, action, subject, detail, prev_hash, digest in db.execute(
            "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY id"):
        count += 1
        if prev_hash != previous:
            breaks.append(Break(row_id, "link"))
        if _digest(prev_hash, at, actor, action, subject, detail) != digest:
            breaks.append(Break(row_id, "hash"))
        previous = digest
    return count, breaks
