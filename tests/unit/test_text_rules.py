import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.domain.text_rules import (
    LIMITS,
    PLATFORMS,
    PROBLEM_CODES,
    MediaInfo,
    Problem,
    MiB,
    append_link,
    bluesky_length,
    check_content,
    find_urls,
    mastodon_length,
    text_length,
    x_weighted_length,
)

DATA = Path(__file__).parent.parent / "data" / "twitter_text" / "validate_weighted.json"
CONFORMANCE = json.loads(DATA.read_text(encoding="utf-8"))["cases"]
EXTRACT = json.loads((DATA.parent / "extract_urls.json").read_text(encoding="utf-8"))["cases"]


def codes(problems):
    return [p.code for p in problems]


def media(*specs):
    """media("a.jpg", ("b.mp4", 10)) -> MediaInfo list; a bare name gets 1 KiB."""
    return [MediaInfo(*spec) if isinstance(spec, tuple) else MediaInfo(spec, 1024) for spec in specs]


# --- twitter-text conformance --------------------------------------------------------------------

@pytest.mark.parametrize("case", CONFORMANCE, ids=[f"{c['section']}-{i}" for i, c in enumerate(CONFORMANCE)])
def test_twitter_text_conformance_weighted_length(case):
    # displayRangeEnd is the last UTF-16 index of the original text: proves the data file is intact.
    assert len(case["text"].encode("utf-16-le")) // 2 - 1 == case["displayRangeEnd"]
    assert x_weighted_length(case["text"]) == case["weightedLength"]


# --- URL extraction ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", EXTRACT, ids=[f"{c['section']}-{i}" for i, c in enumerate(EXTRACT)])
def test_twitter_text_conformance_url_extraction(case):
    # twitter-text 3.1's extract.yml: a bare two-part country domain (foo.jp, it.so) is a link.
    found = find_urls(case["text"])
    if case["expected"] and isinstance(case["expected"][0], dict):
        assert [{"url": url, "indices": [start, end]} for start, end, url in found] == case["expected"]
    else:
        assert [url for _, _, url in found] == case["expected"]


@pytest.mark.parametrize("text, weight", [
    ("b.id", 23), ("Cek kpu.go.id", 4 + 23), ("Cek dpr.id, t.me/kpu dan bit.ly", 4 + 23 + 2 + 23 + 5 + 23),
    ("halo.id\nitu", 23 + 4), ("Cek b.id/x.", 4 + 23 + 1), ("domain.com-foo", 14), ("1\u20e3", 2),
])
def test_a_bare_country_domain_counts_as_a_link_on_x(text, weight):
    assert x_weighted_length(text) == weight

@pytest.mark.parametrize("text, expected", [
    ("Hi http://test.co", ["http://test.co"]),
    ("foo.baz foo.co.jp www.xxxxxxx.baz www.foo.co.uk foo.comm foo.jp", ["foo.co.jp", "www.foo.co.uk", "foo.jp"]),
    ("t.co/abcde bit.ly/abcde", ["t.co/abcde", "bit.ly/abcde"]),
    ("http://foo.jp http://fooooo.jp", ["http://foo.jp", "http://fooooo.jp"]),
    ("twitter.comこれは日本語です。example.com中国語t.co/abcde", ["twitter.com", "example.com", "t.co/abcde"]),
    ("Info: kominfo.go.id dan https://www.indonesia.go.id/berita?id=1.",
     ["kominfo.go.id", "https://www.indonesia.go.id/berita?id=1"]),
    ("https://t.co/abcdefg?x=1", ["https://t.co/abcdefg?x=1"]),
    ("https://t.co/" + "a" * 41, []),
    ("http://en.wikipedia.org/wiki/Primer_(film).", ["http://en.wikipedia.org/wiki/Primer_(film)"]),
    ("surel humas@example.go.id", []),
    ("/example.com -example.com", []),
    ("no link here, v1.2 or file.txt", []),
    ("ftp://example.com", []),  # after "/" a scheme-less domain is no link
])
def test_find_urls(text, expected):
    found = find_urls(text)
    assert [url for _, _, url in found] == expected
    for start, end, url in found:
        assert text[start:end] == url


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text", ["a." * 5000, "a-a." * 3000, ("日本語" * 2000 + ".") * 3, "http://" + "a_-" * 2000 + ".com"])
def test_find_urls_stays_fast_on_pathological_text(text):
    # Without the caps on label length and count, "a." * 5000 took minutes.
    assert find_urls(text) == []


# --- counters ------------------------------------------------------------------------------------

def test_x_counts_emoji_sequences_as_one_unit():
    assert x_weighted_length("\U0001F1EE\U0001F1E9") == 2  # flag
    assert x_weighted_length("1\ufe0f\u20e3") == 2  # keycap
    assert x_weighted_length("\U0001F44D\U0001F3FE") == 2  # skin tone
    assert x_weighted_length("\u00a9") == 2  # pictograph inside the weight-1 range
    assert x_weighted_length("\u00e9") == 1
    assert x_weighted_length("Salam \u2014 \u201cHumas\u201d") == 15  # general punctuation weighs 1


def test_mastodon_counts_links_as_23_and_remote_mentions_as_local():
    url = "https://www.indonesia.go.id/" + "a" * 100
    assert mastodon_length(url) == 23
    assert mastodon_length("hi @humas@mastodon.social") == len("hi @humas")
    assert mastodon_length("hi @humas") == len("hi @humas")
    assert mastodon_length("kominfo.go.id") == len("kominfo.go.id")  # no scheme: not a link there
    assert mastodon_length("\U0001F468\u200d\U0001F469\u200d\U0001F467") == 1


@pytest.mark.parametrize("text, length", [
    ("@kpu.ri@x.y", 7),  # a username may hold a dot
    ("@kpu_ri@a", 9),  # a one-character domain is no domain (Account::MENTION_RE)
    ("@kpu_ri@a@b.c", 13),  # followed by "@": no mention at all, counted whole
    ("@u@host.com@x", 13),
    ("a=@u@host.com", 13),  # after "=" no mention
])
def test_mastodon_mentions_as_mastodon_reads_them(text, length):
    assert mastodon_length(text) == length


def test_bluesky_counts_graphemes():
    assert bluesky_length("e\u0301") == 1
    assert bluesky_length("\U0001F1EE\U0001F1E9 Indonesia") == 11
    assert bluesky_length("https://example.com") == 19


def test_append_link():
    assert append_link("Halo", None) == "Halo"
    assert append_link("Halo ", "https://a.id/x") == "Halo\n\nhttps://a.id/x"
    assert append_link("Lihat https://a.id/x", "https://a.id/x") == "Lihat https://a.id/x"
    assert append_link("  ", "https://a.id/x") == "https://a.id/x"


# --- properties ----------------------------------------------------------------------------------

no_dot_text = st.text(alphabet=st.characters(blacklist_characters="."))  # no '.' means no URL at all


@given(st.text())
def test_lengths_are_non_negative(text):
    assert x_weighted_length(text) >= 0
    assert mastodon_length(text) >= 0
    assert bluesky_length(text) >= 0


@given(st.text(alphabet=st.characters(max_codepoint=127, blacklist_characters=".")))
def test_x_length_of_ascii_without_urls_is_its_length(text):
    assert x_weighted_length(text) == len(text)


@given(st.text(alphabet=st.characters(max_codepoint=127, blacklist_characters=".@\r")))
def test_mastodon_length_of_plain_ascii_is_its_length(text):
    assert mastodon_length(text) == len(text)


@given(no_dot_text, st.characters(blacklist_characters="."))
def test_appending_never_shortens_x_length_without_urls(text, char):
    assert x_weighted_length(text + char) >= x_weighted_length(text)


@given(no_dot_text, st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF))
def test_appending_a_cjk_ideograph_adds_two(text, char):
    assert x_weighted_length(text + char) == x_weighted_length(text) + 2


@settings(deadline=None)
@given(st.text(alphabet=string.ascii_letters + " "),
       st.sampled_from(["https://example.com/", "http://www.indonesia.go.id/", "kominfo.go.id/", "https://bsky.app/"]),
       st.text(alphabet=string.ascii_letters + string.digits + "/-_", max_size=3000).map(lambda p: p + "x"),
       st.text(alphabet=string.ascii_letters + " "))
def test_a_url_of_any_length_counts_23(before, base, path, after):
    url = base + path
    text = f"{before} {url} {after}"
    assert [found for _, _, found in find_urls(text)] == [url]
    assert x_weighted_length(text) == len(before) + 1 + 23 + 1 + len(after)


@given(st.text())
def test_bluesky_length_never_exceeds_code_points(text):
    assert bluesky_length(text) <= len(text)


media_infos = st.lists(st.builds(MediaInfo, st.text(max_size=20), st.integers(min_value=0, max_value=2**31)),
                       max_size=12)


@settings(deadline=None)
@given(st.sampled_from(PLATFORMS), st.text(), media_infos, st.none() | st.text(max_size=40))
def test_check_content_never_raises_and_uses_known_codes(platform, text, items, link):
    problems = check_content(platform, text, items, link)
    assert all(isinstance(p, Problem) and p.code in PROBLEM_CODES for p in problems)
    rules = LIMITS[platform]
    limit = rules["caption_limit"] if items and rules["caption_limit"] else rules["text_limit"]
    length = text_length(platform, append_link(text, link))
    assert ("text_too_long" in codes(problems)) == (length > limit)


# --- per-platform rules --------------------------------------------------------------------------

@pytest.mark.parametrize("platform", PLATFORMS)
def test_empty_text_without_media_is_empty(platform):
    assert "text_empty" in codes(check_content(platform, " \n ", []))
    assert "text_empty" not in codes(check_content(platform, "", media("a.jpg")))
    assert "text_empty" not in codes(check_content(platform, "", [], link="https://a.id/x"))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_text_at_the_limit_passes_and_one_more_fails(platform):
    limit = LIMITS[platform]["text_limit"]
    items = media("a.jpg") if LIMITS[platform]["media_required"] else []
    assert check_content(platform, "a" * limit, items) == []
    assert check_content(platform, "a" * (limit + 1), items) == [
        Problem("text", "text_too_long", {"platform": platform, "length": limit + 1, "limit": limit})]


def test_unknown_platform_is_an_error():
    with pytest.raises(ValueError):
        check_content("myspace", "hi", [])


def test_x_weighs_cjk_double_and_links_23():
    assert codes(check_content("x", "中" * 140, [])) == []
    assert codes(check_content("x", "中" * 141, [])) == ["text_too_long"]
    assert codes(check_content("x", "a" * 256 + " https://www.indonesia.go.id/" + "a" * 300, [])) == []
    problems = check_content("x", "a" * 270, [], link="https://www.indonesia.go.id/berita")
    assert problems[0].params == {"platform": "x", "length": 295, "limit": 280}  # 270 + blank line + 23


def test_x_media_rules():
    assert check_content("x", "hi", media("1.jpg", "2.JPEG", "3.png", "4.webp")) == []
    assert codes(check_content("x", "hi", media(*[f"{i}.jpg" for i in range(5)]))) == ["media_too_many"]
    assert check_content("x", "hi", media("a.mp4", "b.mov"))[0] == Problem(
        "media", "media_too_many", {"platform": "x", "kind": "video", "count": 2, "limit": 1})
    assert codes(check_content("x", "hi", media("a.gif", "b.gif"))) == ["media_too_many"]
    assert check_content("x", "hi", media("a.jpg", "b.mp4")) == [
        Problem("media", "media_mixed", {"platform": "x", "kinds": ["image", "video"]})]
    assert codes(check_content("x", "hi", media("a.jpg", "b.gif"))) == ["media_mixed"]
    assert check_content("x", "hi", media(("a.jpg", 5 * MiB))) == []
    assert check_content("x", "hi", media(("a.jpg", 5 * MiB + 1)))[0] == Problem(
        "media[0]", "media_too_big",
        {"platform": "x", "name": "a.jpg", "kind": "image", "size_bytes": 5 * MiB + 1, "limit_bytes": 5 * MiB})
    assert check_content("x", "hi", media(("a.gif", 15 * MiB))) == []
    assert codes(check_content("x", "hi", media(("a.mp4", 512 * MiB + 1)))) == ["media_too_big"]
    problem = check_content("x", "hi", media("a.jpg", "b.bmp"))[0]
    assert (problem.path, problem.code, problem.params["extension"]) == ("media[1]", "media_type", "bmp")
    assert codes(check_content("x", "hi", media("noextension"))) == ["media_type"]


def test_x_rejects_invalid_characters():
    assert codes(check_content("x", "hi\ufeff", [])) == ["text_invalid_chars"]


def test_all_problems_are_reported_together():
    items = media("1.jpg", "2.bmp", ("3.png", 6 * MiB), "4.jpg", "5.mp4")
    assert sorted(codes(check_content("x", "a" * 300, items))) == sorted(
        ["text_too_long", "media_too_many", "media_type", "media_too_big", "media_mixed"])


def test_instagram_rules():
    assert check_content("instagram", "Caption", []) == [
        Problem("media", "media_required", {"platform": "instagram", "min": 1})]
    # A video goes out as a Reel, alone: not inside a carousel (images alone still make one).
    assert codes(check_content("instagram", "", media("a.jpg", "b.mp4"))) == ["media_alone"]
    assert check_content("instagram", "", media("a.jpg", "b.jpg")) == []
    assert codes(check_content("instagram", "hi", media("a.png"))) == ["media_type"]
    assert codes(check_content("instagram", "hi", media(*[f"{i}.jpg" for i in range(11)]))) == ["media_too_many"]
    assert codes(check_content("instagram", "hi", media(("a.jpg", 8 * MiB + 1)))) == ["media_too_big"]
    assert codes(check_content("instagram", "hi", media(("a.mov", 300 * MiB + 1)))) == ["media_too_big"]
    tags = " ".join(f"#tag{i}" for i in range(31))
    assert check_content("instagram", tags, media("a.jpg")) == [
        Problem("text", "hashtags_too_many", {"platform": "instagram", "count": 31, "limit": 30})]
    assert check_content("instagram", " ".join(f"#tag{i}" for i in range(30)), media("a.jpg")) == []
    mentions = " ".join(f"@user.{i}" for i in range(21)) + " humas@kominfo.go.id"
    assert codes(check_content("instagram", mentions, media("a.jpg"))) == ["mentions_too_many"]


def test_mastodon_rules():
    assert codes(check_content("mastodon", "a" * 470 + " https://www.indonesia.go.id/" + "a" * 100, [])) == []
    assert codes(check_content("mastodon", "a" * 480 + " https://www.indonesia.go.id/" + "a" * 100, [])) == [
        "text_too_long"]
    assert check_content("mastodon", "hi", media("1.jpg", "2.png", "3.gif", "4.webp")) == []
    assert codes(check_content("mastodon", "hi", media(*[f"{i}.jpg" for i in range(5)]))) == ["media_too_many"]
    assert codes(check_content("mastodon", "hi", media("a.jpg", "b.webm"))) == ["media_mixed"]
    assert check_content("mastodon", "hi", media(("a.webm", 99 * MiB))) == []
    assert codes(check_content("mastodon", "hi", media(("a.webm", 99 * MiB + 1)))) == ["media_too_big"]
    assert codes(check_content("mastodon", "hi", media(("a.png", 16 * MiB + 1)))) == ["media_too_big"]


def test_bluesky_rules():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one grapheme, 18 bytes
    assert check_content("bluesky", family * 166, []) == []  # 2,988 bytes
    # 300 graphemes, but 5,400 bytes: over the lexicon's 3,000-byte maxLength, which the PDS enforces too.
    assert codes(check_content("bluesky", family * 300, [])) == ["text_too_many_bytes"]
    assert codes(check_content("bluesky", family * 301, [])) == ["text_too_long", "text_too_many_bytes"]
    assert codes(check_content("bluesky", "é" * 300, [])) == []
    assert check_content("bluesky", "hi", media(("a.jpg", 1_000_000))) == []
    assert codes(check_content("bluesky", "hi", media(("a.jpg", 1_000_001)))) == ["media_too_big"]
    assert codes(check_content("bluesky", "hi", media("a.gif"))) == ["media_type"]
    assert codes(check_content("bluesky", "hi", media("a.mp4", "b.mp4"))) == ["media_too_many"]
    assert codes(check_content("bluesky", "hi", media("a.jpg", "b.mp4"))) == ["media_mixed"]
    assert codes(check_content("bluesky", "hi", media(("a.mp4", 100_000_001)))) == ["media_too_big"]
    # The video service takes up to three minutes.
    long_video = [MediaInfo("a.mp4", 1000, format="mp4", duration=181.0)]
    assert codes(check_content("bluesky", "hi", long_video)) == ["media_too_long"]


def test_facebook_rules():
    assert check_content("facebook", "hi", media(*[f"{i}.bmp" for i in range(10)])) == []
    assert codes(check_content("facebook", "hi", media(*[f"{i}.jpg" for i in range(11)]))) == ["media_too_many"]
    assert codes(check_content("facebook", "hi", media("a.mp4", "b.mp4"))) == ["media_too_many"]
    assert codes(check_content("facebook", "hi", media("a.jpg", "b.mp4"))) == ["media_mixed"]
    assert codes(check_content("facebook", "hi", media(("a.mp4", 1024 * MiB + 1)))) == ["media_too_big"]


def test_telegram_caption_limit_applies_with_media():
    assert check_content("telegram", "a" * 4096, []) == []
    assert check_content("telegram", "a" * 1025, media("a.jpg")) == [
        Problem("text", "text_too_long", {"platform": "telegram", "length": 1025, "limit": 1024})]
    assert check_content("telegram", "a" * 1024, media("a.jpg", "b.mp4")) == []  # albums may mix
    assert codes(check_content("telegram", "hi", media(*[f"{i}.jpg" for i in range(11)]))) == ["media_too_many"]
    assert codes(check_content("telegram", "hi", media(("a.png", 10 * MiB + 1)))) == ["media_too_big"]
