"""`python -m planner ...` with the campaign-file fixes proposed in docs/benchmarks.md patched in at
run time, to measure their effect before anyone changes product code. Not a benchmark; used as

    BENCH_PLANNER_SCRIPT=benchmarks/experiments/planner_patched.py python benchmarks/campaign_apply.py

Patches (all behaviour-preserving):
  - tomllib.loads remembers its last result per text, so the campaign file is parsed once per
    process instead of three times (load_campaign and two _peek_id calls);
  - text_rules.find_urls is memoised (X and Mastodon counting both look for the links of one text);
  - ASCII fast paths: an ASCII text weighs len(text) for X (every ASCII character weighs 1 and
    "\\r\\n" is one cluster of two characters) and has len(text) - text.count("\\r\\n") graphemes.
"""

from __future__ import annotations

import functools
import sys
import tomllib


def _patch() -> None:
    original_loads = tomllib.loads
    cache: dict[int, tuple[str, dict]] = {}

    def loads(text, /, **kwargs):
        key = hash(text)
        hit = cache.get(key)
        if hit is None or hit[0] is not text and hit[0] != text:
            hit = cache[key] = (text, original_loads(text, **kwargs))
        return hit[1]

    tomllib.loads = loads

    from planner.domain import text_rules

    text_rules.find_urls = functools.lru_cache(maxsize=8192)(text_rules.find_urls)
    plain_weight = text_rules._x_plain_weight
    text_rules._x_plain_weight = lambda text: len(text) if text.isascii() else plain_weight(text)
    grapheme_length = text_rules.grapheme.length

    class _Grapheme:
        def __getattr__(self, name):
            return getattr(sys.modules["grapheme"], name)

        @staticmethod
        def length(text, until=None):
            if until is None and text.isascii():
                return len(text) - text.count("\r\n")
            return grapheme_length(text, until)

    text_rules.grapheme = _Grapheme()


if __name__ == "__main__":
    _patch()
    from planner.cli.main import run

    sys.argv[0] = "planner"
    run()
