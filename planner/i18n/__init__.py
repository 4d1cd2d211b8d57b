"""User-facing text in Indonesian (default) and English.

Messages live in one folder per language (``id/``, ``en/``), one TOML file per area of the
tool, under dotted keys (the files of a language are merged).
A missing key in one language falls back to the other, then to the key itself, so a
forgotten translation shows up as text rather than a crash; a test checks both are complete.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from importlib import resources

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


@cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    folder = resources.files(__package__).joinpath(lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            merged.update(_flatten(tomllib.loads(entry.read_text("utf-8"))))
    return merged


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
