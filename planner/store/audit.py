"""The audit log: who did what and when, append-only and hash-chained, its end kept outside the database.

Each row's hash covers its own fields and the previous row's hash, so editing or deleting a row in
the middle breaks the chain from there on. Rows are written inside the same transaction as the
change they describe (callers hold BEGIN IMMEDIATE), which also serialises the chain.

A chain alone cannot prove its own length: deleting the newest rows, or recomputing every hash
after an edit, leaves a chain that checks. So the newest row's number and hash (the head) are also
written outside the database: a small ``audit.head`` file beside it (replaced atomically), a copy
beside each backup, and a line in each staff-chat alert. ``verify`` checks the chain, that the
triggers refusing UPDATE and DELETE are in place, and that every head it is given is still in the
chain. docs/security.md says what this does and does not prove.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GENESIS = "0" * 64
HEAD_FILE = "audit.head"
TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")


@lru_cache(maxsize=1)
def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "unknown")


def _digest(previous: str, at: str, actor: str, action: str, subject: str, detail: str,
            os_user: str | None = None) -> str:
    fields = [previous, at, actor, action, subject, detail] + ([os_user] if os_user is not None else [])
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


AUDIT_SCOPE = "audit_log"


def record(conn, *, at: str, actor: str, action: str, subject: str = "", detail: dict | str | None = None) -> None:
    """Append one entry. Call inside the transaction that makes the change."""
    if not conn.in_transaction:
        raise RuntimeError("audit.record must run inside the change's transaction")
    text = detail if isinstance(detail, str) else json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
    if getattr(conn, "dialect", None) == "postgresql":
        # A post's outcome may run beside the write lock's holder (store/db.py, scope): the chain's own lock
        # keeps its appends one after another. Taken here, after the transaction's row changes, as every
        # writer takes it, so no two wait for each other.
        conn.lock_scope(AUDIT_SCOPE)
    row = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    last_id, previous = row if row else (0, GENESIS)
    os_user = _os_user()
    # The id is the chain's next number, given here under the lock: PostgreSQL's identity sequence would skip
    # the number of a rolled-back append, and verify() counts a gap as a break.
    conn.execute("INSERT INTO audit_log (id, at, actor, action, subject, detail, prev_hash, hash, os_user) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 [last_id + 1, at, actor, action, subject, text, previous,
                  _digest(previous, at, actor, action, subject, text, os_user), os_user])


# --- the head, kept outside the database -----------------------------------------------------------
@dataclass(frozen=True)
class Head:
    count: int    # rows in the chain (ids are 1..count: the table never loses or reuses one)
    last_id: int
    hash: str
    source: str = ""  # where this head was read from

    def as_json(self) -> str:
        return json.dumps({"count": self.count, "last_id": self.last_id, "hash": self.hash})

    def short(self) -> str:
        return f"#{self.last_id} {self.hash[:16]}"


def newest_entries(db, *, since: str | None = None, limit: int) -> list[dict]:
    """At most ``limit`` audit rows (from ``since``, UTC text, when given), newest first."""
    sql, params = "SELECT * FROM audit_log", []
    if since:
        sql += " WHERE at >= ?"
        params.append(since)
    return list(db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]))


def head(db) -> Head:
    row = db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM audit_log").fetchone()
    last = db.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return Head(count=row[0], last_id=row[1], hash=last[0] if last else GENESIS)


def head_path(database: Path) -> Path:
    return Path(database).parent / HEAD_FILE


def write_head(db, path: Path) -> Head:
    """Write the current head to ``path`` atomically (0600); an older head is simply replaced."""
    current = head(db)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(current.as_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return current


def write_head_if_changed(db, path: Path) -> Head | None:
    """Write the head when the chain has grown from the recorded one (cheap enough for every command and
    heartbeat). A recorded head the chain no longer holds is evidence: it is never overwritten."""
    current = head(db)
    if current.count == 0:
        return None
    existing = read_head(path)
    if existing is not None:
        if (existing.last_id, existing.hash) == (current.last_id, current.hash):
            return None
        row = db.execute("SELECT hash FROM audit_log WHERE id = ?", [existing.last_id]).fetchone()
        if existing.count < 0 or row is None or row[0] != existing.hash:
            return None
    return write_head(db, path)


def read_head(path: Path) -> Head | None:
    """A head file, or None when it is missing; an unreadable one is reported by ``verify`` as such."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Head(count=int(data["count"]), last_id=int(data["last_id"]), hash=str(data["hash"]), source=str(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return Head(count=-1, last_id=-1, hash="", source=str(path))


# --- verification ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Break:
    id: int
    reason: str  # "hash" (row changed), "link" (a row before it removed or changed), "trigger" (a guard is
    # missing), "head_missing" (rows after a recorded head were deleted), "head_differs" (the chain was
    # rewritten up to a recorded head), "head_unreadable"
    source: str = ""


def verify(db, heads: list[Head] = ()) -> tuple[int, list[Break]]:
    """Walk the chain and hold it against the heads recorded outside; returns (rows checked, breaks)."""
    breaks: list[Break] = []
    present = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                              "AND tbl_name = 'audit_log'")}
    for name in TRIGGERS:
        if name not in present:
            breaks.append(Break(0, "trigger", name))
    wanted = {h.last_id: h for h in heads if h.last_id > 0}
    for h in heads:
        if h.count < 0:
            breaks.append(Break(0, "head_unreadable", h.source))
    previous = GENESIS
    count = 0
    expected_id = 1
    for row_id, at, actor, action, subject, detail, prev_hash, digest, os_user in db.execute(
            "SELECT id, at, actor, action, subject, detail, prev_hash, hash, os_user FROM audit_log ORDER BY id"):
        count += 1
        if prev_hash != previous or row_id != expected_id:
            breaks.append(Break(row_id, "link"))
        if _digest(prev_hash, at, actor, action, subject, detail, os_user) != digest:
            breaks.append(Break(row_id, "hash"))
        recorded = wanted.pop(row_id, None)
        if recorded is not None and recorded.hash != digest:
            breaks.append(Break(row_id, "head_differs", recorded.source))
        previous = digest
        expected_id = row_id + 1
    for recorded in wanted.values():
        breaks.append(Break(recorded.last_id, "head_missing", recorded.source))
    return count, breaks
