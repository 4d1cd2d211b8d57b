"""An account of the config made ready for an adapter: its secret references resolved (the tool's secrets
file, the keyring, environment variables) and, for X with a refresh token, its self-renewing tokens."""

from __future__ import annotations

import os
from pathlib import Path

from planner.config import (CREDENTIAL_SETS, Config, ConfigError, did_you_mean, find_config_path,
                            refuse_instagram_login_token)


def resolve_secret(reference: str, *, account: str, key: str, config_path: Path | None = None) -> str:
    """The secret a reference points to; a ConfigError naming what to set when it is missing."""
    if reference.startswith("secrets:"):  # the tool's own secrets file (planner/accounts/secrets.py)
        from planner.accounts.secrets import resolve_file_reference

        value = resolve_file_reference(config_path or find_config_path(), reference)
        if not value:
            raise ConfigError("secrets.missing", account=account, credential=key)
        return value
    if reference.startswith("env:"):
        var = reference[4:]
        value = os.environ.get(var)
        if not value:
            raise ConfigError("config.secret_env_missing", account=account, credential=key, var=var)
        return value
    if reference.startswith("keyring:"):
        service, _, user = reference[8:].partition("/")
        try:
            import keyring

            value = keyring.get_password(service, user)
        except Exception as exc:  # no backend on a server, locked keyring...
            raise ConfigError("config.secret_keyring_error", account=account, credential=key, service=service,
                              user=user, error=type(exc).__name__) from None
        if not value:
            raise ConfigError("config.secret_keyring_missing", account=account, credential=key, service=service,
                              user=user)
        return value
    return reference  # a literal (allowed only in a file readable by its owner alone)


def resolve_account(config: Config, name: str):
    """The platform Account with secrets resolved, ready for an adapter."""
    from planner.platforms.base import Account

    if name not in config.accounts:
        raise ConfigError("config.unknown_account", account=name, hint=did_you_mean(name, config.accounts))
    account = config.accounts[name]
    resolved: dict[str, str] = {}
    for key, reference in account.credentials.items():
        resolved[key] = resolve_secret(reference, account=name, key=key, config_path=config.path)
    if account.platform == "instagram":
        refuse_instagram_login_token(name, resolved.get("access_token"))
    sets = CREDENTIAL_SETS[account.platform]
    if not any(all(k in resolved for k in needed) for needed in sets):
        raise ConfigError("config.credentials_incomplete", account=name,
                          needed=" | ".join(", ".join(s) for s in sets))
    tokens = None
    if account.platform == "x" and resolved.get("refresh_token"):  # OAuth 2.0: renewed before it expires
        from planner.accounts.tokens import XTokens  # imported when needed: it brings requests

        tokens = XTokens(config.path, name, account.api_base_url, account.credentials)
    return Account(name=name, platform=account.platform, handle=account.handle,
                   api_base_url=account.api_base_url, credentials=resolved, options=dict(account.options),
                   tokens=tokens)
