"""When to try again after a retryable failure."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 30.0          # seconds before the first retry
    factor: float = 2.0
    cap: float = 30 * 60.0      # never wait longer than this between tries
    jitter: float = 0.2         # +/- 20 %, so posts that failed together do not retry together
    max_attempts: int = 8

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> timedelta:
        """Delay before attempt ``attempt + 1``; the platform's own retry-after always wins if longer."""
        rng = rng or random
        backoff = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        backoff *= 1 + rng.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            backoff = max(retry_after, min(backoff, retry_after + 1.0))
        return timedelta(seconds=max(0.5, backoff))

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
