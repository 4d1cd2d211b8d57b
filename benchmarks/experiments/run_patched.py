"""`planner run` with candidate engine changes patched in at run time, to test a diagnosis from
docs/benchmarks.md before anyone changes product code. Not a benchmark; used through
BENCH_RUN_SCRIPT, e.g.

    BENCH_RUN_SCRIPT=benchmarks/experiments/run_patched.py BENCH_FIX=overclaim python benchmarks/throughput.py

BENCH_FIX is a comma-separated list of:
  overclaim     the dispatcher claims up to 2 x workers posts (the pool keeps its size, so claimed
                posts wait in the pool's queue and a worker never idles waiting for the main loop)
  housekeeping  housekeeping (blackouts, expired leases, missed posts) at most once a second
                instead of on every wake-up
  serialize     one in-process lock around every write transaction (threads queue on it instead of
                SQLite's sleeping busy handler)
BENCH_TX_REPORT=FILE writes write-transaction statistics (lock wait, time held) at exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from contextlib import contextmanager

import planner.store.db as db_module
from planner.publishing import dispatcher as dispatcher_module

FIXES = set(filter(None, os.environ.get("BENCH_FIX", "").split(",")))
_original_transaction = db_module.transaction
_lock = threading.RLock()
_waits: list[float] = []
_holds: list[float] = []


@contextmanager
def _transaction(database):
    start = time.perf_counter()
    if "serialize" in FIXES:
        _lock.acquire()
    try:
        with _original_transaction(database) as conn:
            begun = time.perf_counter()
            yield conn
        _waits.append(begun - start)
        _holds.append(time.perf_counter() - begun)
    finally:
        if "serialize" in FIXES:
            _lock.release()


def _patch_transactions() -> None:
    """Every module that imported ``transaction`` by name gets the timed one."""
    db_module.transaction = _transaction
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("planner.") and getattr(module, "transaction", None) is \
                _original_transaction:
            module.transaction = _transaction


def _patch_dispatcher() -> None:
    cls = dispatcher_module.Dispatcher
    if "overclaim" in FIXES:
        original_init = cls.__init__

        def init(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            self.workers = 2 * self.workers  # the pool was already made with the configured size

        cls.__init__ = init
    if "housekeeping" in FIXES:
        original_housekeeping = cls.housekeeping
        last = {"at": 0.0}

        def housekeeping(self):
            now = time.monotonic()
            if now - last["at"] < 1.0:
                return []
            last["at"] = now
            return original_housekeeping(self)

        cls.housekeeping = housekeeping


def _report() -> None:
    path = os.environ.get("BENCH_TX_REPORT")
    if not path or not _holds:
        return

    def q(values, p):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    with open(path, "w") as handle:
        handle.write(f"fixes {sorted(FIXES) or 'none'}: {len(_holds)} write transactions; waiting for the lock "
                     f"p50 {q(_waits, .5):.1f} p90 {q(_waits, .9):.1f} max {q(_waits, 1):.1f} ms; holding it "
                     f"p50 {q(_holds, .5):.2f} p90 {q(_holds, .9):.2f} ms, {sum(_holds):.1f} s in all\n")


def main() -> None:
    import importlib

    for name in ("planner.store.outbox", "planner.publishing.blackout"):  # they import `transaction` by name
        importlib.import_module(name)

    _patch_transactions()
    _patch_dispatcher()
    atexit.register(_report)
    sys.argv = ["planner", "run", *sys.argv[1:]]
    from planner.cli.main import run

    run()


if __name__ == "__main__":
    main()
