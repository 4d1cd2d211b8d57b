"""Logging of `planner run` and `planner publish`: plain local-time lines or JSON, secrets redacted.

Its own module so that `planner --help` starts without importing logging."""

from __future__ import annotations

import json
import logging
import sys


class _JsonFormatter(logging.Formatter):
    FIELDS = ("post_id", "channel", "campaign", "content", "late_s", "outcome", "detail", "attempt")

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        data.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(json_logs: bool, level: int = logging.INFO, zone=None) -> None:
    from planner.log_time import LocalTimeFormatter

    handler = logging.StreamHandler(sys.stderr)
    # Plain lines carry the office's local time and zone: 2026-12-02 22:35:30 WIB.
    handler.setFormatter(_JsonFormatter() if json_logs else LocalTimeFormatter(
        "%(asctime)s %(levelname)s %(message)s", zone))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "urllib3", "httpx", "httpcore", "requests_oauthlib", "oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from planner.platforms.redaction import install_redaction

    install_redaction()
