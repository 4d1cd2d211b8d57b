"""`planner run`'s single-instance lock, on the backend the config chooses (a convenience: correctness never
depends on it, every state change is guarded in the store).

- SQLite: a lock file beside the database (``planner.db.lock``), as always; it covers the one machine
  that can open the file.
- PostgreSQL: a session advisory lock held by a connection of its own for as long as the scheduler runs. It
  covers every machine using the database, and the server frees it when that connection goes (a crash, a
  SIGKILL, a lost network), so a stale lock never blocks the next start. Every `planner worker` holds the same
  lock shared: any number of workers run together, but never beside a `planner run` (two publishers with
  their own pacing would together exceed an account's), and whichever comes second is refused.
"""

from __future__ import annotations

from planner.errors import PlannerError

# pg_try_advisory_lock key of the running scheduler (another than postgres.WRITE_LOCK_KEY).
SCHEDULER_LOCK_KEY = 0x706C616E6E657253  # "plannerS"


class SchedulerLock:
    def __init__(self, config, *, shared: bool = False):
        """``shared``: a worker's hold (PostgreSQL only), beside other workers'."""
        self.config = config
        self.shared = shared
        self._held = None

    def acquire(self) -> bool:
        """Take the lock without waiting: False when another scheduler holds it."""
        if self.config.database_url:
            from planner.store.postgres import PostgresDatabase

            db = PostgresDatabase(self.config.database_url)
            take = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
            if not db.raw.execute(f"SELECT {take}(%s)", [SCHEDULER_LOCK_KEY]).fetchone()[0]:
                db.close()
                return False
            self._held = db
            return True
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.config.database) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self._held = lock
        return True

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        if self.config.database_url:
            held.close()  # the session ends: PostgreSQL frees its advisory lock
        else:
            held.release()

    def refusal(self) -> PlannerError:
        """Why the scheduler may not start while another holds the lock."""
        if self.config.database_url:
            from planner.store.postgres import safe_url

            url = safe_url(self.config.database_url)
            if self.shared:
                return PlannerError("worker.scheduler_running", url=url)
            if self._held_shared():
                return PlannerError("run.workers_running", url=url)
            return PlannerError("run.locked_postgres", url=url)
        return PlannerError("run.locked", path=str(self.config.database))

    def _held_shared(self) -> bool:
        """Do workers hold the lock now (shared), rather than another `planner run`?"""
        from planner.store.postgres import PostgresDatabase

        db = PostgresDatabase(self.config.database_url)
        try:
            # pg_locks shows a bigint advisory key as its high and low 32 bits.
            return db.raw.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = 'ShareLock' "
                "AND classid = %s AND objid = %s AND objsubid = 1)",
                [SCHEDULER_LOCK_KEY >> 32, SCHEDULER_LOCK_KEY & 0xFFFFFFFF]).fetchone()[0]
        finally:
            db.close()
