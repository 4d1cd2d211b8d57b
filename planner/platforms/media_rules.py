"""The last check before uploading a video or a GIF: the files against the platform's media rules, the very
rules that validation applied (planner.domain.text_rules.LIMITS), read again from the files as they are now.

A file changed since validation (replaced by a longer video, a GIF saved over a JPEG) is refused here,
before any byte goes out, with the same message validation gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from planner.platforms.base import PermanentError


def refuse_unpublishable(platform: str, account: str, paths: Sequence[Path | str]) -> None:
    """Raise PermanentError when the files break ``platform``'s media rules; the message is the catalogue's."""
    from dataclasses import replace

    from planner.domain.media import image_shape, media_info
    from planner.domain.text_rules import MediaInfo, check_content, media_rules, needs_dimensions, needs_frames
    from planner.i18n import t

    # Images are left to validation (and to the platform's own answer), as before video came; a post with
    # a video or a GIF is checked whole, since one of those is what an upload must not start on in vain.
    # So is an image whose shape the platform refuses (Instagram's aspect ratio): the container would
    # fail only after it was made, when the post is due.
    shaped = [needs_dimensions(platform, Path(path).name) for path in paths]
    if not any(shaped) and not any(media_rules(platform, Path(path).name)[0] in ("video", "gif") for path in paths):
        return
    infos = []
    for path, shape in zip(paths, shaped):
        try:
            info = media_info(path)
            if shape:
                width, height, frames = image_shape(path, frames=needs_frames(platform, Path(path).name))
                info = replace(info, width=width, height=height, frames=frames)
            infos.append(info)
        except OSError:  # judged by its name only; the upload itself says why it cannot be read
            infos.append(MediaInfo(name=Path(path).name, size_bytes=0))
    problems = [p for p in check_content(platform, "", infos) if p.path.startswith("media")]
    if problems:
        messages = []
        for problem in problems:
            params = {k: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
                      for k, v in problem.params.items()}
            messages.append(t(f"problem.{problem.code}.what", channel=account, **params))
        raise PermanentError(" ".join(messages), platform=platform)
