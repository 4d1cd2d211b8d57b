"""Writing one account into config.toml (references only), keeping the rest of the file as it is."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from planner.errors import PlannerError


def write_account(path: Path, name: str, platform: str, *, credentials: Mapping[str, str],
                  options: Mapping[str, Any]) -> bool:
    """Create or replace ``[accounts.NAME]``; its slots, utm and other options not given are kept when the
    platform stays the same. Returns True when the account existed. The result is checked before the file
    is replaced (atomically, keeping the file's mode)."""
    import tomlkit

    from planner.config import is_reference, parse_config

    for key, reference in credentials.items():
        if not is_reference(reference):  # never a secret in the config
            raise ValueError(f"credential {key} is not a reference")
    document = tomlkit.parse(path.read_text("utf-8"))
    accounts = document.setdefault("accounts", tomlkit.table(is_super_table=True))
    existing = accounts.get(name)
    keep = existing is not None and existing.get("platform") == platform
    table = existing if keep else tomlkit.table()
    table["platform"] = platform
    for key, value in options.items():
        if value not in (None, ""):
            table[key] = value
    creds = tomlkit.table()
    for key, reference in credentials.items():
        creds[key] = reference
    table["credentials"] = creds
    if not keep:
        accounts[name] = table
    text = tomlkit.dumps(document)
    parse_config(tomllib.loads(text), path)  # raises ConfigError: the file is left untouched
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(path.stat().st_mode & 0o777)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return existing is not None


__all__ = ["write_account", "PlannerError"]
