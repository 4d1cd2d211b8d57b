"""Per-account pacing: a token bucket each, plus a pause when the platform said 'slow down'.

One account being slow or rate-limited never holds the others: the dispatcher does not claim
posts for an account that is blocked or has too many in flight.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated: float
    blocked_until: float = 0.0
    in_flight: int = 0


@dataclass
class Pacer:
    rate: float = 1.0            # posts per second per account, sustained
    burst: int = 5               # posts an account may send back to back
    max_in_flight: int = 2       # concurrent sends per account
    clock: callable = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _bucket(self, account: str) -> _Bucket:
        bucket = self._buckets.get(account)
        now = self.clock()
        if bucket is None:
            bucket = self._buckets[account] = _Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def unavailable(self) -> list[str]:
        """Accounts not to claim for now: blocked by the platform or at their concurrency limit."""
        now = self.clock()
        with self._lock:
            return [name for name, b in self._buckets.items()
                    if b.blocked_until > now or b.in_flight >= self.max_in_flight]

    def room(self) -> dict[str, int]:
        """How many more posts each account with posts in hand may be given (others: max_in_flight)."""
        with self._lock:
            return {name: max(0, self.max_in_flight - b.in_flight) for name, b in self._buckets.items() if b.in_flight}

    def reserve(self, account: str) -> None:
        """A post of ``account`` was claimed: it counts against the account until ``done``."""
        with self._lock:
            self._bucket(account).in_flight += 1

    def acquire(self, account: str, stop: threading.Event | None = None) -> None:
        """Wait for a token of ``account`` (and for any platform block to end). Call after ``reserve``."""
        while True:
            with self._lock:
                bucket = self._bucket(account)
                now = self.clock()
                if bucket.blocked_until <= now and bucket.tokens >= 1:
                    bucket.tokens -= 1
                    return
                wait = max(bucket.blocked_until - now, (1 - bucket.tokens) / self.rate, 0.005)
            if stop is not None and stop.wait(min(wait, 0.5)):
                return
            if stop is None:
                time.sleep(min(wait, 0.5))

    def done(self, account: str) -> None:
        with self._lock:
            self._bucket(account).in_flight -= 1

    def block(self, account: str, seconds: float) -> None:
        """The platform asked us to wait: no posts for this account until then."""
        with self._lock:
            bucket = self._bucket(account)
            bucket.blocked_until = max(bucket.blocked_until, self.clock() + seconds)

    def next_unblock(self) -> float | None:
        now = self.clock()
        with self._lock:
            times = [b.blocked_until - now for b in self._buckets.values() if b.blocked_until > now]
        return min(times) if times else None
