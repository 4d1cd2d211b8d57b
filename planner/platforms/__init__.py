"""Platform adapters, one module per platform, loaded lazily (SDK imports are slow)."""

from __future__ import annotations

import importlib

from planner.platforms.base import Account, Adapter

# platform name -> module that defines ``create(account, timeout) -> Adapter``
ADAPTER_MODULES = {
    "x": "planner.platforms.x",
    "facebook": "planner.platforms.facebook",
    "instagram": "planner.platforms.instagram",
    "mastodon": "planner.platforms.mastodon",
    "bluesky": "planner.platforms.bluesky",
    "telegram": "planner.platforms.telegram",
}

SUPPORTED_PLATFORMS = tuple(ADAPTER_MODULES)


def make_adapter(account: Account, timeout: float = 10.0) -> Adapter:
    module_name = ADAPTER_MODULES.get(account.platform)
    if module_name is None:
        raise ValueError(f"unknown platform {account.platform!r}")
    module = importlib.import_module(module_name)
    return module.create(account, timeout=timeout)
