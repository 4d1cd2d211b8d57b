"""The retry policy's waits (the e2e thread tests cut these waits short and rely on this test for them)."""

from __future__ import annotations

import random
from datetime import timedelta

from planner.publishing.retry import RetryPolicy


def test_backoff_starts_at_half_a_minute_doubles_and_is_capped_with_jitter():
    policy = RetryPolicy()
    rng = random.Random(7)
    for attempt, expected in [(1, 30.0), (2, 60.0), (3, 120.0), (6, 960.0), (7, 1800.0), (12, 1800.0)]:
        waits = [policy.delay(attempt, None, rng).total_seconds() for _ in range(200)]
        assert min(waits) >= expected * 0.8 and max(waits) <= expected * 1.2, (attempt, min(waits), max(waits))
        assert max(waits) - min(waits) > expected * 0.2, "jitter spreads posts that failed together"


def test_the_platforms_retry_after_wins_and_is_kept_close():
    policy = RetryPolicy()
    rng = random.Random(1)
    for _ in range(100):
        longer = policy.delay(1, 120.0, rng)
        assert longer == timedelta(seconds=120.0), "never sooner than the platform asked"
        shorter = policy.delay(3, 2.0, rng).total_seconds()
        assert 2.0 <= shorter <= 3.0, "a short retry-after is honoured, not stretched to the backoff"
    assert policy.delay(1, 0.0, rng) >= timedelta(seconds=0.5)


def test_attempts_run_out_after_eight():
    policy = RetryPolicy()
    assert not policy.exhausted(7) and policy.exhausted(8)
