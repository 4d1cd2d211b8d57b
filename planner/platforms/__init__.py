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
    """The adapter for ``account``; its secrets are registered for masking first.

    Raises PlannerError when ``api_base_url`` is not a safe address (checked here again, whatever the
    config validation did): a token is never sent in clear text to another machine.
    """
    from planner.errors import PlannerError
    from planner.platforms.endpoints import check_base_url, shown
    from planner.platforms.redaction import register_secrets

    module_name = ADAPTER_MODULES.get(account.platform)
    if module_name is None:
        raise ValueError(f"unknown platform {account.platform!r}")
    register_secrets(account.secret_values())
    problem = check_base_url(account.api_base_url)
    if problem:
        raise PlannerError(problem, account=account.name, url=shown(account.api_base_url))
    module = importlib.import_module(module_name)
    return module.create(account, timeout=timeout)
