"""Adapters per (account, thread): SDK clients are not all thread-safe, so each worker has its own."""

from __future__ import annotations

import threading
from typing import Callable

from planner.platforms.base import Adapter


class AdapterPool:
    def __init__(self, make: Callable[[str], Adapter]):
        self._make = make
        self._local = threading.local()

    def get(self, channel: str) -> Adapter:
        cache = getattr(self._local, "adapters", None)
        if cache is None:
            cache = self._local.adapters = {}
        if channel not in cache:
            cache[channel] = self._make(channel)
        return cache[channel]
