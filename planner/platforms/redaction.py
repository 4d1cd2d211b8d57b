"""Keep secrets out of every log line, whatever library writes it.

HTTP libraries log request URLs at debug level, and the Telegram Bot API carries its token in
the URL path. A filter on the root handlers rewrites records before they are formatted.
"""

from __future__ import annotations

import logging
import re
import threading

_BOT_TOKEN = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}")
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def register_secrets(values) -> None:
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= 4)


def redact(text: str) -> str:
    text = _BOT_TOKEN.sub("bot***", text)
    for secret in list(_secrets):
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            formatted = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(formatted)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True


def install_redaction() -> None:
    """Add the filter to every handler of the root logger (idempotent)."""
    global _installed
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    _installed = True
