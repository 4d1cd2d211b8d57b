"""Per-platform text and media rules: how each platform counts text, and what it accepts.

Pure functions only: callers pass file names and sizes, nothing here touches the disk or the network.

URL extraction and the X weighted length follow the rules of twitter-text 3.1
(https://github.com/twitter/twitter-text, Apache-2.0; its conformance cases are in tests/data/twitter_text:
extract_urls.json from 3.1, validate_weighted.json): config v3 (280 weighted, scale 100,
default weight 200, weight 100 for _X_LIGHT_RANGES, URLs 23, emoji parsing on); weights are
counted here as 1 and 2 directly.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import grapheme

PLATFORMS = ("x", "facebook", "instagram", "mastodon", "bluesky", "telegram")

PROBLEM_CODES = frozenset({
    "text_empty",
    "text_too_long",
    "text_invalid_chars",
    "hashtags_too_many",
    "mentions_too_many",
    "media_required",
    "media_too_many",
    "media_mixed",
    "media_type",
    "media_too_big",
    # Image shape and text bytes (messages in planner/i18n/*/platform_truth.toml).
    "media_aspect",
    "text_too_many_bytes",
    # Video and GIF (messages in planner/i18n/*/video.toml).
    "media_too_long",
    "media_too_short",
    "media_duration_unknown",
    "media_format",
    "media_alone",
    # Pixel and frame limits of an animation (messages in planner/i18n/*/animation.toml).
    "media_pixels",
    "media_frames",
    "media_total_pixels",
})

MiB = 1024 * 1024

_IMAGE = ("jpg", "jpeg", "png", "webp")
_VIDEO = ("mp4", "mov")

# "media" maps a kind to its extensions, its size limit and how many of that kind one post may carry;
# "mixed_media" says whether one post may combine kinds (X, Mastodon, Bluesky, Facebook: no).
# "thread_as" says what a thread's later parts become: "replies" (a reply chain; the default) or
# "comments" on the published post (Facebook, Instagram: Graph POST /{object-id}/comments).
# Optional keys of a kind (read by validation, preview and the adapters; see media_rules()):
#   "formats": the sniffed container formats accepted (planner.domain.media.sniff), when narrower than
#              what the extension allows; "min_seconds"/"max_seconds": the video's length (its 'mvhd');
#   "alone": the file must be the post's only media; "refused": the kind cannot be published on this
#            platform by this tool: the problem code whose message gives the reason;
#   "via": how the adapter sends it (the API's own words, shown by `campaign preview`);
#   "min_aspect"/"max_aspect": width / height; "max_width"/"max_height": pixels; "max_frames": an animation's
#            frames; "max_total_pixels": width * height * frames.
LIMITS: dict[str, dict] = {
    "x": {
        "text_limit": 280, "caption_limit": None, "max_media": 4, "media_required": False,
        "mixed_media": False, "max_hashtags": None, "max_mentions": None,
        # Media facts: https://docs.x.com/x-api/media/quickstart/media-upload-chunked (INIT/APPEND/FINALIZE/
        # STATUS; APPEND segments of at most 5 MB) and X's "Media best practices"
        # (https://developer.x.com/en/docs/x-api/v1/media/upload-media/uploading-media/media-best-practices):
        # images 5 MB; animated GIF 15 MB (media_category tweet_gif); video MP4/MOV, 512 MB, 0.5-140 s
        # (tweet_video). GIF and video go through the chunked upload only, one per post.
        "media": {
            "image": {"extensions": _IMAGE, "max_bytes": 5 * MiB, "max_count": 4},
            # Animated GIF (https://docs.x.com/x-api/media/quickstart/best-practices, "Animated GIF
            # recommendations": "A GIF may fail during Post creation even if it is within the file size
            # limit"): resolution <= 1280x1080 (width x height), <= 350 frames, and width * height * frames
            # <= 300 million pixels. Read with Pillow at validation (planner.domain.media.image_shape).
            "gif": {"extensions": ("gif",), "max_bytes": 15 * MiB, "max_count": 1, "alone": True,
                    "max_width": 1280, "max_height": 1080, "max_frames": 350, "max_total_pixels": 300_000_000,
                    "via": "chunked upload, tweet_gif"},
            "video": {"extensions": _VIDEO, "max_bytes": 512 * MiB, "max_count": 1, "alone": True,
                      "min_seconds": 0.5, "max_seconds": 140, "via": "chunked upload, tweet_video"},
        },
    },
    "facebook": {
        "text_limit": 63_206, "caption_limit": None, "max_media": 10, "media_required": False,
        "mixed_media": False, "max_hashtags": None, "max_mentions": None, "thread_as": "comments",
        # Video: POST /{page-id}/videos with the file as "source" (non-resumable upload), documented at
        # https://developers.facebook.com/docs/graph-api/reference/page/videos/ and
        # https://developers.facebook.com/docs/video-api/guides/publishing: up to 1 GB and 20 minutes.
        "media": {
            "image": {"extensions": _IMAGE + ("gif", "bmp"), "max_bytes": 10 * MiB, "max_count": 10},
            "video": {"extensions": _VIDEO, "max_bytes": 1024 * MiB, "max_count": 1, "alone": True,
                      "max_seconds": 20 * 60, "via": "/{page-id}/videos"},
        },
    },
    "instagram": {
        "text_limit": 2_200, "caption_limit": None, "max_media": 10, "media_required": True,
        "mixed_media": True, "max_hashtags": 30, "max_mentions": 20, "thread_as": "comments",
        # A video is published as a Reel: a container with media_type=REELS and video_url (Instagram fetches
        # the file from the account's media_base_url), polled until status_code FINISHED. Reels
        # specifications (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/
        # reference/ig-user/media#reel-specifications): MOV or MP4, at most 300 MB, 3 s to 15 min. A Reel
        # is one video: videos inside a carousel are not published by this tool.
        "media": {
            # Image specifications (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/
            # reference/ig-user/media#image-specifications): JPEG, 8 MB, aspect ratio within 4:5 to 1.91:1
            # (outside it the container ends in status ERROR); widths outside 320-1440 px are scaled, not refused.
            "image": {"extensions": ("jpg", "jpeg"), "max_bytes": 8 * MiB, "max_count": 10,
                      "min_aspect": 4 / 5, "max_aspect": 1.91},
            "video": {"extensions": _VIDEO, "max_bytes": 300 * MiB, "max_count": 1, "alone": True,
                      "min_seconds": 3, "max_seconds": 15 * 60, "via": "Reels"},
        },
    },
    "mastodon": {
        # 500 is Mastodon's default; each instance sets its own (configuration.statuses.max_characters,
        # https://docs.joinmastodon.org/entities/Instance/), read by `account check` (store/text_limits).
        "text_limit": 500, "caption_limit": None, "max_media": 4, "media_required": False,
        "mixed_media": False, "max_hashtags": None, "max_mentions": None,
        "media": {
            "image": {"extensions": _IMAGE + ("gif",), "max_bytes": 16 * MiB, "max_count": 4},
            "video": {"extensions": _VIDEO + ("webm",), "max_bytes": 99 * MiB, "max_count": 1},
        },
    },
    "bluesky": {
        # The post record's lexicon (https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/feed/
        # post.json): text maxGraphemes 300 and maxLength 3000 (UTF-8 bytes); both are enforced by the PDS.
        "text_limit": 300, "caption_limit": None, "max_media": 4, "media_required": False,
        "mixed_media": False, "max_hashtags": None, "max_mentions": None, "text_max_bytes": 3000,
        "media": {
            # Bluesky states these two in decimal bytes.
            "image": {"extensions": _IMAGE, "max_bytes": 1_000_000, "max_count": 4},
            # Video goes through Bluesky's video service (https://docs.bsky.app/docs/tutorials/video: service
            # auth from the PDS for com.atproto.repo.uploadBlob, app.bsky.video.uploadVideo, getJobStatus until
            # JOB_STATE_COMPLETED, then app.bsky.embed.video with the blob): MP4, 100 MB, up to 3 minutes.
            "video": {"extensions": ("mp4",), "formats": ("mp4",), "max_bytes": 100_000_000, "max_count": 1,
                      "alone": True, "max_seconds": 180, "via": "video.bsky.app (uploadVideo)"},
        },
    },
    "telegram": {
        # With media the text travels as the caption, which has its own, smaller limit: Bot API
        # (https://core.telegram.org/bots/api#sendmessage, #sendphoto) text 1-4096 characters, caption
        # 0-1024, both counted after entities parsing. A thread's later parts are messages replying to it.
        "text_limit": 4_096, "caption_limit": 1_024, "max_media": 10, "media_required": False,
        "mixed_media": True, "max_hashtags": None, "max_mentions": None,
        "media": {
            "image": {"extensions": ("jpg", "jpeg", "png"), "max_bytes": 10 * MiB, "max_count": 10},
            # Bot API (https://core.telegram.org/bots/api#sendvideo, #sendanimation): sendVideo takes MPEG-4
            # video, sendAnimation a GIF (or silent H.264 MP4); a bot uploads at most 50 MB of either.
            # sendMediaGroup takes photos and videos (an album) but no animation, so a GIF goes alone.
            "video": {"extensions": _VIDEO, "formats": ("mp4",), "max_bytes": 50 * MiB, "max_count": 10,
                      "via": "sendVideo / sendMediaGroup"},
            "gif": {"extensions": ("gif",), "max_bytes": 50 * MiB, "max_count": 1, "alone": True,
                    "via": "sendAnimation"},
        },
    },
}


@dataclass(frozen=True)
class Problem:
    path: str
    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MediaInfo:
    name: str
    size_bytes: int
    format: str | None = None  # sniffed container format ("mp4", "mov", "gif"...), None when not read
    duration: float | None = None  # seconds of a video, None when not read
    width: int | None = None  # pixels, None when not read (only read where a rule needs them)
    height: int | None = None
    frames: int | None = None  # an animation's frames, None when not read (only where a rule needs them)


def media_rules(platform: str, name: str) -> tuple[str | None, dict]:
    """(kind, its rules) of a file name on a platform: "image", "gif", "video", or (None, {}) when refused."""
    rules = LIMITS[platform]
    kind = _media_kind(rules, _extension(name))
    return kind, (rules["media"][kind] if kind else {})


# --- URL extraction (twitter-text 3.x, JavaScript flavour) -------------------------------------

_LATIN = ("\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259"
          "\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff")
_CYRILLIC = "\u0400-\u04ff"
_PUNCT = "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$"
_SPACES = "\t-\r \u0085\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVALID = "\ufffe\ufeff\uffff\u202a-\u202e"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"


def _domain_chars(allowed_punct: str = "") -> str:
    punct = "".join(c for c in _PUNCT if c not in allowed_punct)
    return f"[^{re.escape(punct)}{_SPACES}{_INVALID}]"


def _trie(words: list[str]) -> str:
    """An alternation of words as a prefix tree, longest first: far quicker to try than a flat one."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if "" in node:
            branches.append("")
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"

    return pattern(tree)


def _tld_pattern(tlds: str) -> str:
    # twitter-text 3.1: a TLD followed by "+" or "-" ends no domain ("domain.com-that..." is no link).
    return f"(?:{_trie(tlds.split())}(?=[^0-9a-zA-Z@+\\-]|$))"


# Labels are capped at 63 characters (the DNS limit, also enforced by _valid_host) and sub-domains
# at 20, so that text like "a.a.a.a..." cannot make the search backtrack quadratically.
_DC = _domain_chars()
_SUBDOMAIN = f"(?:(?:{_DC}{_domain_chars('_-')}{{0,61}})?{_DC}\\.)"
_DOMAIN_NAME = f"(?:(?:{_DC}{_domain_chars('-')}{{0,61}})?{_DC}\\.)"
_MAX_SUBDOMAINS = 20
_PUNYCODE = r"(?:xn--[\-0-9a-z]+)"
_PATH_CHAR = f"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&{_LATIN}]"
_PARENS = f"\\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\\({_PATH_CHAR}+\\){_PATH_CHAR}*))\\)"
_PATH_END = f"(?:[+\\-a-z{_CYRILLIC}0-9=_#/{_LATIN}]|{_PARENS})"
_PATH = f"(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END}|@{_PATH_CHAR}+/)"
_QUERY = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"
_PRECEDING = f"(?:[^A-Za-z0-9@\uff20$#\uff03{_INVALID}]|[{_DIRECTIONAL}]|^)"

# _URL_RE and the other compiled patterns sit at the end of the module, after the TLD lists.
# A t.co link ends at its slug, or at its query when it has one (twitter-text 3.1's validTcoUrl).
_TCO_RE = re.compile(f"https?://t\\.co/([a-z0-9]+)(?:\\?{_QUERY}*{_QUERY_END})?", re.IGNORECASE)
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40


def _valid_host(url: str, protocol: str, domain: str) -> bool:
    """Every label 1..63 characters once punycode-encoded, whole URL at most 4096 characters."""
    if domain.startswith("xn--") and not _ASCII_DOMAIN_RE.search(domain):
        return False
    for label in domain.split("."):
        try:
            length = len(label) if label.isascii() else 4 + len(label.encode("punycode"))
        except UnicodeError:
            return False
        if not 1 <= length <= 63:
            return False
    return len(protocol) + len(url) <= _MAX_URL_LENGTH


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """URLs as twitter-text finds them, with or without a scheme: (start, end, url) character offsets."""
    return list(_cached_urls(text))


@functools.lru_cache(maxsize=256)
def _cached_urls(text: str) -> tuple[tuple[int, int, str], ...]:
    """The same text is counted for several platforms and channels in a row: find its links once."""
    return tuple(_find_urls(text))


def _find_urls(text: str) -> list[tuple[int, int, str]]:
    if "." not in text:
        return []
    urls: list[tuple[int, int, str]] = []
    for match in _URL_RE.finditer(text):
        before, url, protocol, domain, path = match.group(1, 2, 3, 4, 5)
        start, end = match.span(2)
        if not _valid_host(url, protocol or "https://", domain):
            continue
        if protocol:
            tco = _TCO_RE.match(url)
            if tco:
                # t.co links end at their slug (or query), and a slug longer than 40 is no t.co link.
                if len(tco.group(1)) > _MAX_TCO_SLUG_LENGTH:
                    continue
                url, end = tco.group(0), start + tco.end()
            urls.append((start, end, url))
            continue
        if before and before in "-_./":
            continue
        # Without a scheme only ASCII domains count. Since twitter-text 3.1 a bare two-part country
        # domain ("b.id", "foo.jp", no path) is a link too: 2.x and 3.0 left it out unless .co or .tv.
        last = None
        for ascii_domain in _ASCII_DOMAIN_RE.finditer(domain):
            last = (start + ascii_domain.start(), start + ascii_domain.end(), ascii_domain.group())
            urls.append(last)
        if last is not None and path:
            urls[-1] = (last[0], end, text[last[0]:end])
    return urls


# --- counters --------------------------------------------------------------------------------

_X_URL_WEIGHT = 23
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # weight 1, the rest 2
_ZWJ = "\u200d"
_EMOJI_EXTENDERS = re.compile("[\ufe0f\u20e3\u200d\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]")
_KEYCAP_BASES = "#*0123456789"
_LIGHT_PICTOGRAPHS = "\u00a9\u00ae"  # (c) and (R): the only emoji inside the weight-1 ranges


def _x_char_weight(char: str) -> int:
    code = ord(char)
    return 1 if any(low <= code <= high for low, high in _X_LIGHT_RANGES) else 2


def _is_regional_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _is_emoji_cluster(cluster: str) -> bool:
    """Whether a grapheme cluster is one emoji (presentation sequence, modifier, ZWJ, flag, keycap, tag)."""
    first = cluster[0]
    if len(cluster) == 1:
        # Any other single emoji weighs 2 as a plain character anyway.
        return first in _LIGHT_PICTOGRAPHS
    if _is_regional_indicator(first):
        return _is_regional_indicator(cluster[1])
    if first in _KEYCAP_BASES:
        if not cluster.endswith("\u20e3"):
            return False
    elif _x_char_weight(first) == 1 and first not in _LIGHT_PICTOGRAPHS:
        return False
    return all(_EMOJI_EXTENDERS.match(char) or previous == _ZWJ
               for previous, char in zip(cluster, cluster[1:]))


def _simple(text: str) -> bool:
    """No character that can join a grapheme cluster (combining marks start at U+0300): the cluster
    count is then the character count, less one per CR LF pair. Most Indonesian text is simple."""
    return not text or max(text) < "\u0300"


def grapheme_count(text: str) -> int:
    if _simple(text):
        return len(text) - text.count("\r\n")
    return grapheme.length(text)


def _x_plain_weight(text: str) -> int:
    if _simple(text) and not any(c in text for c in _LIGHT_PICTOGRAPHS):
        return len(text)  # below U+0300 every code point weighs 1 except the two pictographs
    total = 0
    for cluster in grapheme.graphemes(text):
        total += 2 if _is_emoji_cluster(cluster) else sum(map(_x_char_weight, cluster))
    return total


def x_weighted_length(text: str) -> int:
    """Length of a post as X counts it (twitter-text v3 configuration)."""
    text = unicodedata.normalize("NFC", text)
    total, position = 0, 0
    for start, end, _ in find_urls(text):
        total += _x_plain_weight(text[position:start]) + _X_URL_WEIGHT
        position = end
    return total + _x_plain_weight(text[position:])


_MASTODON_URL_LENGTH = 23
_HAS_SCHEME = re.compile(r"https?://", re.IGNORECASE)
# Mastodon's Account::MENTION_RE (app/models/account.rb): the domain has at least two characters; a
# mention followed by "@", a Latin accent or "://" is no mention (lib/extractor.rb, end_mention_match).
_MASTODON_MENTION = re.compile(
    r"(?<![=/\w])@(([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?)", re.IGNORECASE)
_MASTODON_MENTION_END = re.compile(f"[@\uff20{_LATIN}]|://")


def mastodon_length(text: str) -> int:
    """Length as Mastodon counts it: graphemes, a link (http/https only) counts 23, @user@domain counts as @user."""
    pieces, position = [], 0
    for start, end, url in find_urls(text):
        if _HAS_SCHEME.match(url):
            pieces += [text[position:start], "x" * _MASTODON_URL_LENGTH]
            position = end
    pieces.append(text[position:])
    countable = "".join(pieces)
    if "@" in countable:
        countable = _MASTODON_MENTION.sub(
            lambda m: m.group(0) if _MASTODON_MENTION_END.match(countable, m.end()) else "@" + m.group(2), countable)
    return grapheme_count(countable)


def bluesky_length(text: str) -> int:
    """Length as Bluesky counts it: grapheme clusters."""
    return grapheme_count(text)


_COUNTERS = {"x": x_weighted_length, "mastodon": mastodon_length, "bluesky": bluesky_length}

_HASHTAG = re.compile(r"(?<![\w#&])[#\uff03]\w+")
_MENTION = re.compile(r"(?<![\w@.])@[a-z0-9._]+", re.IGNORECASE)
_X_INVALID_CHARS = re.compile("[\ufffe\ufeff\uffff]")


def text_length(platform: str, text: str) -> int:
    """Length of text as the given platform counts it."""
    return _COUNTERS.get(platform, len)(text)


def append_link(text: str, link: str | None) -> str:
    """The text that is published: the link after a blank line, unless the text already has it.

    Every adapter publishes this very text, so what validation counts is what the platform gets.
    """
    if not link or link in text:
        return text
    body = text.rstrip()
    return f"{body}\n\n{link}" if body else link


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def _media_kind(rules: dict, extension: str) -> str | None:
    for kind, spec in rules["media"].items():
        if extension in spec["extensions"]:
            return kind
    return None


def _media_file_problems(platform: str, index: int, item: MediaInfo, kind: str, spec: dict) -> list[Problem]:
    """Format and length of one file against its kind's rules (only what was read is checked, except a
    video's length: a platform with a length limit needs it known)."""
    problems = []
    base = {"platform": platform, "name": item.name, "kind": kind}
    formats = spec.get("formats")
    if formats and item.format is not None and item.format not in formats:
        from planner.domain.media import format_name

        problems.append(Problem(f"media[{index}]", "media_format", {
            **base, "format": format_name(item.format), "allowed": [format_name(f) for f in formats]}))
    low, high = spec.get("min_seconds"), spec.get("max_seconds")
    if low is None and high is None:
        return problems
    if item.duration is None:
        if item.format is not None:  # the bytes were read, and hold no movie header
            problems.append(Problem(f"media[{index}]", "media_duration_unknown", base))
    elif high is not None and item.duration > high:
        problems.append(Problem(f"media[{index}]", "media_too_long", {
            **base, "seconds": round(item.duration, 1), "limit_seconds": high}))
    elif low is not None and item.duration < low:
        problems.append(Problem(f"media[{index}]", "media_too_short", {
            **base, "seconds": round(item.duration, 1), "limit_seconds": low}))
    return problems


_SHAPE_RULES = ("min_aspect", "max_aspect", "max_width", "max_height", "max_frames", "max_total_pixels")
_FRAME_RULES = ("max_frames", "max_total_pixels")


def needs_dimensions(platform: str, name: str) -> bool:
    """Whether the platform's rules for this file look at its pixels (so they are worth reading)."""
    spec = media_rules(platform, name)[1]
    return any(rule in spec for rule in _SHAPE_RULES)


def needs_frames(platform: str, name: str) -> bool:
    """Whether the platform's rules for this file count its frames (an animated GIF on X)."""
    spec = media_rules(platform, name)[1]
    return any(rule in spec for rule in _FRAME_RULES)


def _shape_problems(platform: str, index: int, item: MediaInfo, kind: str, spec: dict) -> list[Problem]:
    """The image's aspect ratio, pixels and frames against the kind's rules, as far as they were read."""
    return _aspect_problems(platform, index, item, kind, spec) + _size_problems(platform, index, item, kind, spec)


def _size_problems(platform: str, index: int, item: MediaInfo, kind: str, spec: dict) -> list[Problem]:
    """Width and height against "max_width"/"max_height", frames against "max_frames", all of them together
    against "max_total_pixels"."""
    base = {"platform": platform, "name": item.name, "kind": kind}
    problems = []
    max_width, max_height = spec.get("max_width"), spec.get("max_height")
    if (max_width or max_height) and item.width and item.height and (
            (max_width and item.width > max_width) or (max_height and item.height > max_height)):
        problems.append(Problem(f"media[{index}]", "media_pixels", {
            **base, "width": item.width, "height": item.height, "max_width": max_width or "-",
            "max_height": max_height or "-"}))
    max_frames = spec.get("max_frames")
    if max_frames and item.frames and item.frames > max_frames:
        problems.append(Problem(f"media[{index}]", "media_frames", {
            **base, "frames": item.frames, "limit_frames": max_frames}))
    max_total = spec.get("max_total_pixels")
    if max_total and item.width and item.height and item.frames:
        total = item.width * item.height * item.frames
        if total > max_total:
            problems.append(Problem(f"media[{index}]", "media_total_pixels", {
                **base, "width": item.width, "height": item.height, "frames": item.frames,
                "million": -(-total // 1_000_000), "limit_million": max_total // 1_000_000}))
    return problems


def _aspect_problems(platform: str, index: int, item: MediaInfo, kind: str, spec: dict) -> list[Problem]:
    """The image's aspect ratio (width / height) against the kind's "min_aspect"/"max_aspect", when read."""
    low, high = spec.get("min_aspect"), spec.get("max_aspect")
    if (low is None and high is None) or not item.width or not item.height:
        return []
    ratio = item.width / item.height
    if (low is None or ratio >= low - 1e-9) and (high is None or ratio <= high + 1e-9):
        return []
    return [Problem(f"media[{index}]", "media_aspect", {
        "platform": platform, "name": item.name, "kind": kind, "width": item.width, "height": item.height,
        "ratio": f"{ratio:.2f}:1", "min_ratio": f"{low:.2f}:1" if low else "-",
        "max_ratio": f"{high:.2f}:1" if high else "-"})]


def check_content(platform: str, text: str, media: list[MediaInfo], link: str | None = None, *,
                  text_limit: int | None = None) -> list[Problem]:
    """Every way in which a post breaks the platform's rules (empty list when it is fine).

    ``text_limit``: the account's own limit where its platform told it (a Mastodon instance's
    max_characters, see planner.store.text_limits), instead of the documented one."""
    if platform not in LIMITS:
        raise ValueError(f"unknown platform: {platform!r}")
    rules = LIMITS[platform]
    problems: list[Problem] = []
    full_text = append_link(text, link)

    if not full_text.strip() and not media:
        problems.append(Problem("text", "text_empty", {"platform": platform}))
    limit = rules["caption_limit"] if media and rules["caption_limit"] else (text_limit or rules["text_limit"])
    length = text_length(platform, full_text)
    if length > limit:
        problems.append(Problem("text", "text_too_long", {"platform": platform, "length": length, "limit": limit}))
    max_text_bytes = rules.get("text_max_bytes")
    if max_text_bytes and len(full_text.encode("utf-8")) > max_text_bytes:
        problems.append(Problem("text", "text_too_many_bytes", {
            "platform": platform, "bytes": len(full_text.encode("utf-8")), "limit": max_text_bytes}))
    if platform == "x" and _X_INVALID_CHARS.search(full_text):
        problems.append(Problem("text", "text_invalid_chars", {"platform": platform}))
    for code, pattern, max_count in (("hashtags_too_many", _HASHTAG, rules["max_hashtags"]),
                                     ("mentions_too_many", _MENTION, rules["max_mentions"])):
        if max_count is None:
            continue
        count = len(pattern.findall(full_text))
        if count > max_count:
            problems.append(Problem("text", code, {"platform": platform, "count": count, "limit": max_count}))

    if rules["media_required"] and not media:
        problems.append(Problem("media", "media_required", {"platform": platform, "min": 1}))
    if len(media) > rules["max_media"]:
        problems.append(Problem("media", "media_too_many",
                                {"platform": platform, "count": len(media), "limit": rules["max_media"]}))
    kinds = []
    for index, item in enumerate(media):
        extension = _extension(item.name)
        kind = _media_kind(rules, extension)
        if kind is None:
            allowed = sorted({ext for spec in rules["media"].values() for ext in spec["extensions"]})
            problems.append(Problem(f"media[{index}]", "media_type", {
                "platform": platform, "name": item.name, "extension": extension, "allowed": allowed}))
            continue
        kinds.append(kind)
        spec = rules["media"][kind]
        max_bytes = spec["max_bytes"]
        if spec.get("refused"):
            problems.append(Problem(f"media[{index}]", spec["refused"], {
                "platform": platform, "name": item.name, "kind": kind}))
            continue
        if item.size_bytes > max_bytes:
            problems.append(Problem(f"media[{index}]", "media_too_big", {
                "platform": platform, "name": item.name, "kind": kind,
                "size_bytes": item.size_bytes, "limit_bytes": max_bytes}))
        problems += _media_file_problems(platform, index, item, kind, spec)
        problems += _shape_problems(platform, index, item, kind, spec)
        # Only where kinds may mix: elsewhere media_mixed / media_too_many already say it.
        if spec.get("alone") and rules["mixed_media"] and any(
                _media_kind(rules, _extension(other.name)) not in (None, kind) for other in media):
            problems.append(Problem(f"media[{index}]", "media_alone", {
                "platform": platform, "name": item.name, "kind": kind, "count": len(media)}))
    for kind, count in Counter(kinds).items():
        kind_limit = rules["media"][kind]["max_count"]
        # A per-kind limit only adds something when it is tighter than the overall one.
        if count > kind_limit and kind_limit < rules["max_media"]:
            problems.append(Problem("media", "media_too_many",
                                    {"platform": platform, "kind": kind, "count": count, "limit": kind_limit}))
    if not rules["mixed_media"] and len(set(kinds)) > 1:
        problems.append(Problem("media", "media_mixed", {"platform": platform, "kinds": sorted(set(kinds))}))
    return problems


# --- top-level domains (twitter-text's list, conformance/tld_lib.yml) -----------------------------

_CCTLDS = """
한국 香港 澳門 新加坡 台灣 台湾 中國 中国 გე ລາວ ไทย ලංකා ഭാരതം ಭಾರತ భారత్ சிங்கப்பூர் இலங்கை இந்தியா
ଭାରତ ભારત ਭਾਰਤ ভাৰত ভারত বাংলা भारोत भारतम् भारत ڀارت پاکستان موريتانيا مليسيا مصر قطر فلسطين عمان
عراق سورية سودان تونس بھارت بارت ایران امارات المغرب السعودية الجزائر البحرين الاردن հայ қаз укр срб
рф мон мкд ею бел бг ευ ελ
zw zm za yt ye ws wf vu vn vi vg ve vc va uz uy us um uk ug ua tz tw tv tt tr tp to tn tm tl tk tj th tg
tf td tc sz sy sx sv su st ss sr so sn sm sl sk sj si sh sg se sd sc sb sa rw ru rs ro re qa py pw pt ps
pr pn pm pl pk ph pg pf pe pa om nz nu nr np no nl ni ng nf ne nc na mz my mx mw mv mu mt ms mr mq mp mo
mn mm ml mk mh mg mf me md mc ma ly lv lu lt ls lr lk li lc lb la kz ky kw kr kp kn km ki kh kg ke jp jo
jm je it is ir iq io in im il ie id hu ht hr hn hm hk gy gw gu gt gs gr gq gp gn gm gl gi gh gg gf ge gd
gb ga fr fo fm fk fj fi eu et es er eh eg ee ec dz do dm dk dj de cz cy cx cw cv cu cr co cn cm cl ck ci
ch cg cf cd cc ca bz by bw bv bt bs br bq bo bn bm bl bj bi bh bg bf be bd bb ba az ax aw au at as ar aq
ao an am al ai ag af ae ad ac
"""

_GTLDS = """
삼성 닷컴 닷넷 香格里拉 餐厅 食品 飞利浦 電訊盈科 集团 通販 购物 谷歌 诺基亚 联通 网络 网站 网店 网址 组织机构 移动 珠宝
点看 游戏 淡马锡 机构 書籍 时尚 新闻 政府 政务 招聘 手表 手机 我爱你 慈善 微博 广东 工行 家電 娱乐 天主教 大拿 大众汽车
在线 嘉里大酒店 嘉里 商标 商店 商城 公益 公司 八卦 健康 信息 佛山 企业 中文网 中信 世界 ポイント ファッション セール
ストア コム グーグル クラウド みんな คอม संगठन नेट कॉम همراه موقع موبايلي كوم كاثوليك عرب شبكة بيتك بازار
العليان ارامكو اتصالات ابوظبي קום сайт рус орг онлайн москва ком католик дети
zuerich zone zippo zip zero zara zappos yun youtube you yokohama yoga yodobashi yandex yamaxun yahoo
yachts xyz xxx xperia xin xihuan xfinity xerox xbox wtf wtc wow world works work woodside wolterskluwer
wme winners wine windows win williamhill wiki wien whoswho weir weibo wedding wed website weber webcam
weatherchannel weather watches watch warman wanggou wang walter walmart wales vuelos voyage voto voting
vote volvo volkswagen vodka vlaanderen vivo viva vistaprint vista vision visa virgin vip vin villas
viking vig video viajes vet versicherung vermögensberatung vermögensberater verisign ventures vegas
vanguard vana vacations ups uol uno university unicom uconnect ubs ubank tvs tushu tunes tui tube trv
trust travelersinsurance travelers travelchannel travel training trading trade toys toyota town tours
total toshiba toray top tools tokyo today tmall tkmaxx tjx tjmaxx tirol tires tips tiffany tienda
tickets tiaa theatre theater thd teva tennis temasek telefonica telecity tel technology tech team tdk
tci taxi tax tattoo tatar tatamotors target taobao talk taipei tab systems symantec sydney swiss
swiftcover swatch suzuki surgery surf support supply supplies sucks style study studio stream store
storage stockholm stcgroup stc statoil statefarm statebank starhub star staples stada srt srl
spreadbetting spot spiegel space soy sony song solutions solar sohu software softbank social soccer
sncf smile smart sling skype sky skin ski site singles sina silk shriram showtime show shouji shopping
shop shoes shiksha shia shell shaw sharp shangrila sfr sexy sex sew seven ses services sener select
seek security secure seat search scot scor scjohnson science schwarz schule school scholarships schmidt
schaeffler scb sca sbs sbi saxo save sas sarl sapo sap sanofi sandvikcoromant sandvik samsung samsclub
salon sale sakura safety safe saarland ryukyu rwe run ruhr rugby rsvp room rogers rodeo rocks rocher
rmit rip rio ril rightathome ricoh richardli rich rexroth reviews review restaurant rest republican
report repair rentals rent ren reliance reit reisen reise rehab redumbrella redstone red recipes realty
realtor realestate read raid radio racing qvc quest quebec qpon pwc pub prudential pru protection
property properties promo progressive prof productions prod pro prime press praxi pramerica post porn
politie poker pohl pnc plus plumbing playstation play place pizza pioneer pink ping pin pid pictures
pictet pics piaget physio photos photography photo phone philips phd pharmacy pfizer pet pccw pay
passagens party parts partners pars paris panerai panasonic pamperedchef page ovh ott otsuka osaka
origins orientexpress organic org orange oracle open ooo onyourside online onl ong one omega ollo
oldnavy olayangroup olayan okinawa office off observer obi nyc ntt nrw nra nowtv nowruz now norton
northwesternmutual nokia nissay nissan ninja nikon nike nico nhk ngo nfl nexus nextdirect next news
newholland new neustar network netflix netbank net nec nba navy natura nationwide name nagoya nadex nab
mutuelle mutual museum mtr mtpc mtn msd movistar movie mov motorcycles moto moscow mortgage mormon mopar
montblanc monster money monash mom moi moe moda mobily mobile mobi mma mls mlb mitsubishi mit mint mini
mil microsoft miami metlife merckmsd meo menu men memorial meme melbourne meet media med mckinsey
mcdonalds mcd mba mattel maserati marshalls marriott markets marketing market map mango management man
makeup maison maif madrid macys luxury luxe lupin lundbeck ltda ltd lplfinancial lpl love lotto lotte
london lol loft locus locker loans loan lixil living live lipsy link linde lincoln limo limited lilly
like lighting lifestyle lifeinsurance life lidl liaison lgbt lexus lego legal lefrak leclerc lease lds
lawyer law latrobe latino lat lasalle lanxess landrover land lancome lancia lancaster lamer lamborghini
ladbrokes lacaixa kyoto kuokgroup kred krd kpn kpmg kosher komatsu koeln kiwi kitchen kindle kinder kim
kia kfh kerryproperties kerrylogistics kerryhotels kddi kaufen juniper juegos jprs jpmorgan joy jot
joburg jobs jnj jmp jll jlc jio jewelry jetzt jeep jcp jcb java jaguar iwc iveco itv itau istanbul ist
ismaili iselect irish ipiranga investments intuit international intel int insure insurance institute
ink ing info infiniti industries immobilien immo imdb imamat ikano iinet ifm ieee icu ice icbc ibm
hyundai hyatt hughes htc hsbc how house hotmail hotels hoteles hot hosting host hospital horse
honeywell honda homesense homes homegoods homedepot holiday holdings hockey hkt hiv hitachi hisamitsu
hiphop hgtv hermes here helsinki help healthcare health hdfcbank hdfc hbo haus hangout hamburg hair guru
guitars guide guge gucci guardian group grocery gripe green gratis graphics grainger gov got gop google
goog goodyear goodhands goo golf goldpoint gold godaddy gmx gmo gmbh gmail globo global gle glass glade
giving gives gifts gift ggee george genting gent gea gdn gbiz garden gap games game gallup gallo gallery
gal fyi futbol furniture fund fun fujixerox fujitsu ftr frontier frontdoor frogans frl fresenius free
fox foundation forum forsale forex ford football foodnetwork food foo fly flsmidth flowers florist flir
flights flickr fitness fit fishing fish firmdale firestone fire financial finance final film fido
fidelity fiat ferrero ferrari feedback fedex fast fashion farmers farm fans fan family faith fairwinds
fail fage extraspace express exposed expert exchange everbank events eus eurovision etisalat esurance
estate esq erni ericsson equipment epson epost enterprises engineering engineer energy emerck email
education edu edeka eco eat earth dvr dvag durban dupont duns dunlop duck dubai dtv drive download dot
doosan domains doha dog dodge doctor docs dnp diy dish discover discount directory direct digital diet
diamonds dhl dev design desi dentist dental democrat delta deloitte dell delivery degree deals dealer
deal dds dclk day datsun dating date data dance dad dabur cyou cymru cuisinella csc cruises cruise crs
crown cricket creditunion creditcard credit courses coupons coupon country corsica coop cool
cookingchannel cooking contractors contact consulting construction condos comsec computer compare
company community commbank comcast com cologne college coffee codes coach clubmed club cloud clothing
clinique clinic click cleaning claims cityeats city citic citi citadel cisco circle cipriani church
chrysler chrome christmas chloe chintai cheap chat chase channel chanel cfd cfa cern ceo center ceb cbs
cbre cbn cba catholic catering cat casino cash caseih case casa cartier cars careers career care cards
caravan car capitalone capital capetown canon cancerresearch camp camera cam calvinklein call cal cafe
cab bzh buzz buy business builders build bugatti budapest brussels brother broker broadway bridgestone
bradesco box boutique bot boston bostik bosch boots booking book boo bond bom bofa boehringer boats
bnpparibas bnl bmw bms blue bloomberg blog blockbuster blanco blackfriday black biz bio bingo bing bike
bid bible bharti bet bestbuy best berlin bentley beer beauty beats bcn bcg bbva bbt bbc bayern bauhaus
basketball baseball bargains barefoot barclays barclaycard barcelona bar bank band bananarepublic
banamex baidu baby azure axa aws avianca autos auto author auspost audio audible audi auction attorney
athleta associates asia asda arte art arpa army archi aramco arab aquarelle apple app apartments aol
anz anquan android analytics amsterdam amica amfam amex americanfamily americanexpress alstom alsace
ally allstate allfinanz alipay alibaba alfaromeo akdn airtel airforce airbus aigo aig agency agakhan
africa afl afamilycompany aetna aero aeg adult ads adac actor active aco accountants accountant
accenture academy abudhabi abogado able abc abbvie abbott abb abarth aarp aaa onion
charity cpa gay inc llc llp sport
"""

# --- compiled URL patterns ---------------------------------------------------------------------

_GTLD, _CCTLD = _tld_pattern(_GTLDS), _tld_pattern(_CCTLDS)
_URL_RE = re.compile(
    f"({_PRECEDING})"  # 1 the character before the URL
    f"((https?://)?"  # 2 URL, 3 protocol
    f"({_SUBDOMAIN}{{0,{_MAX_SUBDOMAINS}}}{_DOMAIN_NAME}(?:{_GTLD}|{_CCTLD}|{_PUNYCODE}))"  # 4 domain
    f"(?::[0-9]+)?(/(?:{_PATH})*+)?"  # 5 path
    f"(?:\\?{_QUERY}*{_QUERY_END})?)",
    re.IGNORECASE)
_ASCII_DOMAIN_RE = re.compile(f"(?:[\\-a-z0-9{_LATIN}]+\\.)+(?:{_GTLD}|{_CCTLD}|{_PUNYCODE})", re.IGNORECASE)
