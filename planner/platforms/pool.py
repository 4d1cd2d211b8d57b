"""Adapters per (account, thread): SDK clients are not all thread-safe, so each worker has its own."""

from __future__ import annotations

import threading
from typing import Callable

from planner.platforms.base import Adapter


class AdapterPool:
    def __init__(self, make: Callable[[str], Adapter]):
        self._make = make
        self._local = threading.local()
        self._generation: dict[str, int] = {}  # bumped by forget(): every thread makes a new adapter

    def get(self, channel: str) -> Adapter:
        cache = getattr(self._local, "adapters", None)
        if cache is None:
            cache = self._local.adapters = {}
        generation = self._generation.get(channel, 0)
        cached = cache.get(channel)
        if cached is None or cached[0] != generation:
            cache[channel] = (generation, self._make(channel))
        return cache[channel][1]

    def forget(self, channel: str) -> None:
        """Make the account's adapters anew on next use, in every thread: its credentials may have been
        replaced (a new token in the keyring) since they were read."""
        self._generation[channel] = self._generation.get(channel, 0) + 1
