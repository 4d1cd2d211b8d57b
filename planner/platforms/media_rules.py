"""The last check before an upload: the files against the platform's media rules, the very rules that
validation applied (planner.domain.text_rules.LIMITS), read again from the files as they are now.

A file changed since validation (replaced by a longer video, a GIF saved over a JPEG) is refused here,
before any byte goes out, with the same message validation gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from planner.platforms.base import PermanentError


def refuse_unpublishable(platform: str, account: str, paths: Sequence[Path | str]) -> None:
    """Raise PermanentError when the files break ``platform``'s media rules; the message is the catalogue's."""
    from planner.domain.media import media_info
    from planner.domain.text_rules import check_content
    from planner.i18n import t

    try:
        infos = [media_info(path) for path in paths]
    except OSError as exc:
        raise PermanentError(f"{platform}: cannot read media file {Path(exc.filename or '').name}: "
                             f"{exc.strerror}", platform=platform) from None
    problems = [p for p in check_content(platform, "", infos) if p.path.startswith("media")]
    if problems:
        messages = []
        for problem in problems:
            params = {k: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
                      for k, v in problem.params.items()}
            messages.append(t(f"problem.{problem.code}.what", channel=account, **params))
        raise PermanentError(" ".join(messages), platform=platform)
