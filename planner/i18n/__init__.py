"""User-facing text in Indonesian (default) and English.

Messages live in one folder per language (``id/``, ``en/``), one TOML file per area of the
tool, under dotted keys (the files of a language are merged).
A missing key in one language falls back to the other, then to the key itself, so a
forgotten translation shows up as text rather than a crash; a test checks both are complete.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

_current = os.environ.get("PLANNER_LANG", DEFAULT_LANGUAGE)


def set_language(lang: str | None) -> None:
    global _current
    if lang:
        if lang not in LANGUAGES:
            raise ValueError(lang)
        _current = lang


def get_language() -> str:
    return _current if _current in LANGUAGES else DEFAULT_LANGUAGE


_FOLDER = Path(__file__).parent


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The merged messages of one language; cached as JSON between runs (parsing the TOML files is
    the largest part of `planner --help`'s start-up). The cache is keyed by the files' sizes and
    times, so an edited catalogue is read again; without a writable cache folder it just parses."""
    files = sorted((_FOLDER / lang).glob("*.toml"))
    stamp = "-".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
    cache_file = _cache_dir() / f"i18n-{lang}.json"
    try:
        cached = json.loads(cache_file.read_text("utf-8"))
        if cached.get("stamp") == stamp:
            return cached["messages"]
    except (OSError, ValueError, AttributeError):
        pass
    import tomllib

    merged: dict[str, str] = {}
    for file in files:
        merged.update(_flatten(tomllib.loads(file.read_text("utf-8"))))
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "messages": merged}, ensure_ascii=False), "utf-8")
        os.replace(tmp, cache_file)
    except OSError:
        pass
    return merged


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "humas-planner"


def _flatten(table: dict, prefix: str = ""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def t(_key: str, _lang: str | None = None, **params) -> str:
    """The message ``_key`` in the current language, filled with ``params``."""
    lang = _lang or get_language()
    text = catalogue(lang).get(_key)
    if text is None:
        other = "en" if lang == "id" else "id"
        text = catalogue(other).get(_key, _key)
    if "hint" in params:
        params["hint"] = t("common.did_you_mean", lang, word=params["hint"]) if params["hint"] else ""
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


def has(key: str) -> bool:
    return key in catalogue(get_language())
