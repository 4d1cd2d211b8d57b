"""Keep secrets out of every stored error, output and log line, whatever library writes it.

One module masks secrets for the whole tool (the Telegram adapter uses it too):

- every registered secret (``register_secrets``; the adapters' credentials), in each form a platform,
  proxy or library may echo it: as is, lower- or upper-cased, URL-encoded (``quote`` and ``quote_plus``,
  hex in either case, also encoded twice), JSON- or HTML-escaped, and base64-encoded at any position
  (so a base64 ``user:password`` in an echoed Basic header is caught too);
- token shapes per platform, even when nobody registered them: Telegram bot tokens (``123456:AAH...``,
  with the colon URL-encoded too), ``Bearer``/``Basic``/``OAuth`` authorization values in any case,
  ``access_token=...`` and similar parameters (query, form, JSON, OAuth 1 header), Facebook/Graph tokens
  (``EAA...``), JWTs (Bluesky/atproto sessions, ``eyJ...``) and X OAuth 2 tokens.

``safe_error`` is what every platform error goes through before it is shown or stored: masked, then cut
to ``ERROR_LIMIT`` characters with a marker. A logging filter on the root handlers (``install_redaction``)
rewrites records before they are formatted.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "REDACTED"
ERROR_LIMIT = 2000  # characters of an error message kept (stored in posts.last_error, audit, reports, logs)
_PRECUT = 8 * ERROR_LIMIT  # a huge body is cut to this before masking, to keep masking fast
_MIN_SECRET = 4  # shorter values are not secrets worth masking (and would mask half of every text)
_MIN_BASE64 = 8  # secrets at least this long are also looked for base64-encoded

_secrets: set[str] = set()
_lock = threading.Lock()
# (lower-cased forms for a quick check, one regex for them all, lower-cased form -> its mask), or None
_matcher: tuple[tuple[str, ...], re.Pattern, dict[str, str]] | None = None

# --- token shapes ----------------------------------------------------------------------------------------
_SECRET_PARAMS = "|".join((
    "access_token", "refresh_token", "id_token", "client_secret", "appsecret_proof", "fb_exchange_token",
    "input_token", "app_password", "password", "passwd", "oauth_token", "oauth_signature", "oauth_consumer_key",
    "oauth_token_secret", "consumer_secret", "access_token_secret", "bot_token", "bearer_token", "api_key",
    "accessJwt", "refreshJwt"))
# a parameter name starts a word, or follows a URL-encoded "?" or "&"
_PARAM_START = r"(?:(?<![A-Za-z0-9_])|(?<=%3[Ff])|(?<=%26))"
_NOT_A_VALUE = r"(?!env:|keyring:|" + MASK + ")"  # a reference to a secret, or one masked already
# Each shape: (pattern, what replaces a match). Applied one after the other, in this order.
_SHAPES: list[tuple[re.Pattern, object]] = [
    # Telegram bot tokens: "<bot id>:<35 characters>", the colon maybe URL-encoded (once or twice);
    # the bot id is public and tells which bot, so it stays
    (re.compile(r"(?<=bot)(\d{3,})(:|%3[Aa]|%253[Aa])[A-Za-z0-9_-]{20,}"), rf"\1\2{MASK}"),
    (re.compile(r"(?<!\d)(\d{6,})(:|%3[Aa]|%253[Aa])[A-Za-z0-9_-]{30,}"), rf"\1\2{MASK}"),
    # JWTs: Bluesky / atproto session tokens, OAuth id tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]+){0,2}"), MASK),
    # Facebook / Instagram Graph tokens
    (re.compile(r"\bEAA[A-Za-z0-9]{20,}"), MASK),
    # X app-only bearer tokens: twenty-odd "A"s, then the token (often URL-encoded)
    (re.compile(r"\bA{20,}[A-Za-z0-9%_+/=-]{10,}"), MASK),
    # secret parameters, quoted: "password": "...", oauth_token="...", 'access_token': '...'
    (re.compile(_PARAM_START + r"((?i:" + _SECRET_PARAMS + r")(?:\\?[\"'])?\s*[:=]\s*(\\?[\"']))"
                + _NOT_A_VALUE + r"(?:(?!\2)[^\n]){1,500}(?=\2)"), rf"\1{MASK}"),
    # secret parameters, bare: access_token=..., access_token%3D..., password: ...
    (re.compile(_PARAM_START + r"((?i:" + _SECRET_PARAMS + r")(?:=|%3[Dd]|%253[Dd]|\s*:\s*))"
                + _NOT_A_VALUE + r"(?![\"'\\])[^&\s\"'#,;}\]<>\\]+"), rf"\1{MASK}"),
    # authorization header values in any case ("Bearer", "bearer", "BEARER"); an OAuth 1 header's
    # parameters are left to the rule above, and words after "basic" in a sentence are left alone
    (re.compile(r"\b((?i:bearer|basic|oauth)(?:\s+|%20|\+))(?!oauth_|realm=|" + MASK + r")"
                r"([A-Za-z0-9\-._~+/%]{6,}=*)"), "auth"),
    # X OAuth 2 user tokens: base64url of "<random>:<ms timestamp>:1:0:at:1", decoded to tell
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{60,200}={0,2}(?![A-Za-z0-9_-])"), "x_oauth2"),
]
_X_OAUTH2 = re.compile(rb":\d{10,}:\d+:\d+:(?:at|rt):\d+$")


def register_secrets(values) -> None:
    """Remember secret values (an account's credentials) so they are masked wherever they appear."""
    global _matcher
    new = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET} - _secrets
    if new:
        with _lock:
            _secrets.update(new)
            _matcher = None


def redact(text: str) -> str:
    """``text`` with every registered secret (in any of its forms) and every token shape masked."""
    if not text:
        return text
    matcher = _matcher or _build_matcher()
    lowered_forms, pattern, masks = matcher
    if lowered_forms:
        low = text.lower()
        if any(form in low for form in lowered_forms):
            text = pattern.sub(lambda m: masks.get(m.group(0).lower(), MASK), text)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(_REPLACERS.get(replacement, replacement), text)
    return text


def safe_error(text: object, limit: int = ERROR_LIMIT) -> str:
    """A platform's error text made fit to show and store: secrets masked, cut to ``limit`` characters.

    The cut keeps the start (what failed) and the end (often what to do), with a marker in between
    saying how much was cut. The result is never longer than ``limit``, so applying it again changes
    nothing. Masking comes first, so no cut can leave a secret's piece that is no longer recognised.
    """
    text = "" if text is None else str(text)
    omitted = 0
    if len(text) > _PRECUT:  # a huge body: only its start and end can be kept, so only they are masked
        omitted = len(text) - _PRECUT
        text = text[:_PRECUT // 2] + "\n" + text[-(_PRECUT // 2):]
        omitted -= 1
    text = redact(text)
    if len(text) <= limit and not omitted:
        return text
    marker = ""
    for _ in range(2):  # the marker's own length depends on the number it gives
        keep = max(0, limit - len(marker))
        head = min(len(text), keep * 3 // 4)
        tail = min(len(text) - head, keep - head)
        marker = f" [… {omitted + len(text) - head - tail} characters cut …] "
    keep = max(0, limit - len(marker))
    head = min(len(text), keep * 3 // 4)
    tail = min(len(text) - head, keep - head)
    return text[:head] + marker + (text[len(text) - tail:] if tail else "")


# --- the matchers ------------------------------------------------------------------------------------------
def _build_matcher() -> tuple[tuple[str, ...], re.Pattern, dict[str, str]]:
    global _matcher
    with _lock:
        masks: dict[str, str] = {}
        for secret in _secrets:
            mask = _mask_for(secret)
            for form in _forms(secret):
                masks.setdefault(form.lower(), mask)
        forms = sorted(masks, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(f) for f in forms) or r"(?!)", re.IGNORECASE)
        _matcher = (tuple(forms), pattern, masks)
        return _matcher


def _mask_for(secret: str) -> str:
    """A Telegram bot token keeps its bot id (public, and it tells which bot); anything else is MASK."""
    bot_id, colon, rest = secret.partition(":")
    if colon and bot_id.isdigit() and rest:
        return f"{bot_id}:{MASK}"
    return MASK


def _forms(secret: str) -> set[str]:
    """The ways ``secret`` can be written in an echoed request, answer, URL or log line."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             html.escape(secret), quote(secret), quote(secret, safe=""), quote_plus(secret)}
    forms.add(quote(quote(secret, safe=""), safe=""))  # encoded twice (a proxy quoting a quoted path)
    forms.add(json.dumps(secret)[1:-1].replace("/", "\\/"))  # JSON encoders that escape "/" too
    raw = secret.encode("utf-8")
    if len(raw) >= _MIN_BASE64:
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(raw).decode("ascii"))
            # Inside a longer base64 text (say "user:password") the secret's bytes fall at any offset
            # modulo 3; the characters made only of its own bytes are the same for a given offset.
            for offset in range(3):
                whole = (len(raw) - offset) // 3 * 3
                if whole >= 6:
                    forms.add(encode(raw[offset:offset + whole]).decode("ascii"))
    return {f for f in forms if len(f) >= _MIN_SECRET}


def _mask_auth(match: re.Match) -> str:
    scheme, value = match.group(1), match.group(2)
    if scheme.strip().lower().startswith("basic"):
        return scheme + MASK if _is_basic_credential(value) else match.group(0)
    if len(value) >= 20 or (len(value) >= 10 and any(c.isdigit() for c in value)):
        return scheme + MASK
    return match.group(0)


def _mask_x_oauth2(match: re.Match) -> str:
    return MASK if _is_x_oauth2(match.group(0)) else match.group(0)


_REPLACERS = {"auth": _mask_auth, "x_oauth2": _mask_x_oauth2}


def _is_basic_credential(value: str) -> bool:
    """True for base64 of "user:password" (words after "basic" in a sentence do not decode to that)."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _is_x_oauth2(value: str) -> bool:
    try:
        decoded = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return False
    return _X_OAUTH2.search(decoded) is not None


# --- logging ---------------------------------------------------------------------------------------------------
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, its traceback and its string extras (``detail``...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's to report, not ours
            return True
        clean = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters (ours for JSON logs too) would format the exception themselves, unmasked:
            # the masked traceback becomes part of the message instead.
            import traceback

            clean = f"{clean}\n{redact(''.join(traceback.format_exception(*record.exc_info))).rstrip()}"
            record.exc_info, record.exc_text = None, None
        if clean != message:
            record.msg, record.args = clean, None
        for name, value in list(record.__dict__.items()):
            if name not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


def install_redaction() -> None:
    """Add the filter to every handler of the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def add_logger_filter(*names: str) -> None:
    """Add the filter to the named loggers themselves (idempotent): their records are masked even when
    they reach a handler set up by someone else (pytest's, a library's)."""
    with _lock:
        for name in names:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactingFilter) for f in logger.filters):
                logger.addFilter(RedactingFilter())
