"""Time as the running parts read it: one Clock, given to the service, the dispatcher, the periodic jobs
and the readiness check, so tests can move time instead of sleeping.

`SYSTEM` is the real clock; `now()` reads it for one-shot commands where passing a clock buys nothing.
`FakeClock` stands still until a test moves it (`advance`, `set`), and its `sleep` moves it instead of
waiting. Times are aware UTC datetimes, as stored.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Wait until ``event`` is set or ``timeout`` seconds have passed; True if it was set."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM = SystemClock()


def now() -> datetime:
    """Now, in UTC, from the real clock (for one-shot commands)."""
    return SYSTEM.now()


class FakeClock:
    """A clock that moves only when told to, or when someone sleeps on it (thread-safe).

    ``wait`` returns at once when the event is set; otherwise it lets the timeout pass on this clock and
    returns whether the event is set then, so a loop that waits on it runs without real delays.
    """

    def __init__(self, start: datetime | None = None):
        start = start or datetime.now(timezone.utc)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, by: float | timedelta) -> datetime:
        """Move time forward by ``by`` (seconds or a timedelta); returns the new now."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError("time does not run backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (not earlier than now)."""
        self.advance(moment.astimezone(timezone.utc) - self.now())

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        if not event.is_set() and timeout:
            self.advance(timeout)
        return event.is_set()

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()})"


class OffsetClock:
    """The real clock shifted by a fixed amount: real sleeps and waits, 'now' as if that much later (or
    earlier). For tests whose subject runs on real threads but must see a moment that has not come yet."""

    def __init__(self, offset: timedelta, base: Clock = SYSTEM):
        self.offset = offset
        self.base = base

    def now(self) -> datetime:
        return self.base.now() + self.offset

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return self.base.wait(event, timeout)
