"""Message catalogues: both languages complete, every key the code uses exists."""

from __future__ import annotations

import ast
import functools
import re
import string
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from planner.i18n import LANGUAGES, catalogue, set_language, t
from planner.i18n.dates import format_date, format_moment, format_number

PACKAGE = Path(__file__).resolve().parents[2] / "planner"
I18N = PACKAGE / "i18n"
SOURCES = sorted(PACKAGE.rglob("*.py"))


@functools.cache
def merged(lang: str) -> dict[str, str]:
    """All files of one language folder, merged, read straight from disk (not through the cache)."""
    result: dict[str, str] = {}

    def flatten(table, prefix=""):
        for key, value in table.items():
            if isinstance(value, dict):
                flatten(value, f"{prefix}{key}.")
            else:
                assert f"{prefix}{key}" not in result, f"{lang}: {prefix}{key} defined twice"
                result[f"{prefix}{key}"] = value

    files = sorted((I18N / lang).glob("*.toml"))
    assert files, lang
    for file in files:
        flatten(tomllib.loads(file.read_text("utf-8")))
    return result


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_languages_have_exactly_the_same_keys():
    ids, ens = merged("id"), merged("en")
    assert sorted(set(ids) - set(ens)) == []
    assert sorted(set(ens) - set(ids)) == []


def test_both_languages_use_the_same_placeholders():
    ids, ens = merged("id"), merged("en")
    different = {k: (placeholders(ids[k]), placeholders(ens[k])) for k in ids
                 if placeholders(ids[k]) != placeholders(ens[k])}
    assert different == {}


def test_every_message_is_a_non_empty_formattable_string():
    for lang in LANGUAGES:
        for key, text in merged(lang).items():
            assert isinstance(text, str) and text.strip(), (lang, key)
            list(string.Formatter().parse(text))  # raises on a stray brace


def test_catalogue_function_reads_every_file_of_the_folder():
    for lang in LANGUAGES:
        assert set(merged(lang)) <= set(catalogue(lang))


# --- keys used by the code -------------------------------------------------------------------------

# A literal key is a whole argument: `t("a.b", ...)`, not the start of `t("a.b_" + x)`.
T_CALL = re.compile(r"""\bt\(\s*(["'])([a-z_]+(?:\.[a-z0-9_]+)+)\1(?=\s*[,)])""")
ERROR_CALL = re.compile(r"""\b\w*Error\(\s*(["'])([a-z_]+\.[a-z0-9_.]+)\1(?=\s*[,)])""")


def used_keys() -> dict[str, str]:
    found = {}
    for source in SOURCES:
        text = source.read_text("utf-8")
        for pattern in (T_CALL, ERROR_CALL):
            for match in pattern.finditer(text):
                found.setdefault(match.group(2), f"{source.relative_to(PACKAGE.parent)}")
    return found


def test_the_scan_finds_keys():
    keys = used_keys()
    # Guards the regexes themselves: these are certainly used.
    assert {"common.error", "init.config_kept", "config.not_found", "store.unreadable"} <= set(keys)
    assert len(keys) > 80


def test_every_literal_key_exists_in_both_languages():
    missing = {(lang, key, where) for key, where in used_keys().items() for lang in LANGUAGES
               if key not in merged(lang)}
    assert missing == set()


def _calls_of(function_name: str, tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name == function_name:
                yield node


def problem_codes() -> dict[str, str]:
    """Codes passed to _Reader.add(path, "code", ...) and Problem(file, path, "code", ...) anywhere."""
    codes = {}
    for source in SOURCES:
        tree = ast.parse(source.read_text("utf-8"))
        for call in _calls_of("add", tree):
            if len(call.args) >= 2 and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str):
                codes[call.args[1].value] = str(source)
        for call in _calls_of("Problem", tree):
            if len(call.args) >= 3 and isinstance(call.args[2], ast.Constant) and isinstance(call.args[2].value, str):
                codes[call.args[2].value] = str(source)
    return codes


def test_every_problem_code_has_what_and_fix():
    from planner.domain.text_rules import PROBLEM_CODES

    codes = dict(problem_codes())
    codes.update({code: "text_rules.PROBLEM_CODES" for code in PROBLEM_CODES})
    from planner.domain.media import PROBLEM_CODES as MEDIA_CODES  # check_media's codes (keywords, not add())

    codes.update({code: "media.PROBLEM_CODES" for code in MEDIA_CODES})
    assert {"unknown_key", "time_in_past", "media_missing", "duplicate_campaign", "text_too_long"} <= set(codes)
    missing = {(lang, f"problem.{code}.{part}") for code in codes for lang in LANGUAGES
               for part in ("what", "fix") if f"problem.{code}.{part}" not in merged(lang)}
    assert missing == set()


def test_dynamic_key_families_are_complete():
    from planner.domain.campaign import KPI_METRICS, REPORT_PERIODS
    from planner.store.queries import STATE_ORDER

    families = {
        "state": STATE_ORDER, "kpi": KPI_METRICS, "period": REPORT_PERIODS,
        "expected": ("table", "text", "list_of_text", "array_of_tables"),
        "apply": ("added", "changed", "canceled", "published_kept", "in_flight"),
        "campaign": tuple(f"col_{c}" for c in ("id", "name", "owner", "period", "posts")),
        "queue": tuple(f"col_{c}" for c in ("when", "channel", "campaign", "state", "text")),
        "account": tuple(f"col_{c}" for c in ("name", "platform", "handle", "api", "credentials")),
    }
    missing = {(lang, f"{prefix}.{name}") for prefix, names in families.items() for name in names
               for lang in LANGUAGES if f"{prefix}.{name}" not in merged(lang)}
    assert missing == set()


# --- t() and the date/number formats ----------------------------------------------------------------

def test_t_fills_params_and_falls_back():
    assert t("apply.added", "id", count=3) == "3 unggahan ditambahkan"
    assert t("apply.added", "en", count=3) == "3 posts added"
    assert t("tidak.ada.kunci", "id") == "tidak.ada.kunci"
    assert t("common.did_you_mean", "en", word="grace") == " (did you mean 'grace'?)"


def test_t_hint_is_wrapped_or_dropped():
    assert "'timezone'" in t("problem.unknown_key.what", "id", key="timezon", hint="timezone")
    assert t("problem.unknown_key.what", "id", key="timezon", hint="").endswith("tidak dikenal.")


def test_current_language_switches(monkeypatch):
    try:
        set_language("en")
        assert t("state.queued") == "scheduled" or t("state.queued") == merged("en")["state.queued"]
        set_language("id")
        assert t("state.queued") == merged("id")["state.queued"]
        with pytest.raises(ValueError):
            set_language("jv")
    finally:
        set_language("id")


@pytest.mark.parametrize("zone, expected_id, expected_en", [
    ("Asia/Jakarta", "Senin, 1 Februari 2027 09.00 WIB", "Monday, 1 February 2027 09:00 WIB"),
    ("Asia/Makassar", "Senin, 1 Februari 2027 10.00 WITA", "Monday, 1 February 2027 10:00 WITA"),
    ("Asia/Jayapura", "Senin, 1 Februari 2027 11.00 WIT", "Monday, 1 February 2027 11:00 WIT"),
])
def test_format_moment_in_indonesian_zones(zone, expected_id, expected_en):
    moment = datetime(2027, 2, 1, 2, 0, tzinfo=timezone.utc)
    assert format_moment(moment, ZoneInfo(zone), "id") == expected_id
    assert format_moment(moment, ZoneInfo(zone), "en") == expected_en


def test_all_day_and_month_names():
    zone = ZoneInfo("Asia/Jakarta")
    days = [format_moment(datetime(2027, 3, d, 5, tzinfo=timezone.utc), zone, "id").split(",")[0]
            for d in range(1, 8)]
    assert days == ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
    months = [format_date(datetime(2027, m, 1), "id").split()[1] for m in range(1, 13)]
    assert months == ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
                      "Oktober", "November", "Desember"]


def test_numbers():
    assert format_number(12345.6, "id", decimals=1) == "12.345,6"
    assert format_number(12345.6, "en", decimals=1) == "12,345.6"
    assert format_number(50000, "id") == "50.000"
