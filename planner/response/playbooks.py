"""Playbooks: a campaign's ``[[response]]`` tables, read and checked, and matched against spike alerts.

A playbook ties keywords or phrases (and optionally a minimum spike ratio) to standby content and the
channels to answer on. Validation runs inside ``campaign validate``: every standby item named must exist,
be standby, and go to each of the playbook's channels (so its text was checked for that channel).
"""

from __future__ import annotations

from typing import Any

from planner.domain.campaign import Playbook

RESPONSE_KEYS = ("id", "keywords", "phrases", "min_ratio", "content", "channels")


def read_playbooks(r, raw: Any, items, channels: tuple[str, ...]) -> tuple[Playbook, ...]:
    """Check ``[[response]]`` (``r`` is campaign_files._Reader) against the campaign's content items."""
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        r.add("response", "type", expected="array_of_tables")
        return ()
    by_id = {item.id: item for item in items}
    found: list[Playbook] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw, 1):
        path = f"response[{i}]"
        table = r.table(entry, path, RESPONSE_KEYS, required=("id", "content"))
        playbook_id = r.slug(table, "id", path)
        if playbook_id and playbook_id in seen:
            r.add(f"{path}.id", "duplicate_id", value=playbook_id, first=path)
        seen.add(playbook_id)
        keywords = r.texts(table, "keywords", path)
        phrases = r.texts(table, "phrases", path)
        if not keywords and not phrases and isinstance(entry, dict):
            r.add(path, "response_no_trigger")
        ratio = table.get("min_ratio")
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio <= 0):
            r.add(f"{path}.min_ratio", "response_bad_ratio", value=str(ratio))
            ratio = None
        content = r.texts(table, "content", path)
        if "content" in table and not content:
            r.add(f"{path}.content", "empty", key="content")
        answer_channels = r.texts(table, "channels", path)
        for j, channel in enumerate(answer_channels, 1):
            if channel not in channels:
                r.add(f"{path}.channels[{j}]", "channel_not_in_campaign", value=channel,
                      known=", ".join(channels) or "-")
        for j, content_id in enumerate(content, 1):
            item = by_id.get(content_id)
            if item is None:
                r.add(f"{path}.content[{j}]", "response_unknown_content", value=content_id,
                      known=", ".join(i.id for i in items if i.standby) or "-")
                continue
            if not item.standby:
                r.add(f"{path}.content[{j}]", "response_not_standby", value=content_id)
                continue
            # The item's text and media were checked for its own channels: each answer channel must be one.
            item_channels = item.channels or channels
            for channel in answer_channels:
                if channel in channels and channel not in item_channels:
                    r.add(f"{path}.content[{j}]", "response_channel_not_prepared", value=content_id,
                          channel=channel, prepared=", ".join(item_channels) or "-")
        found.append(Playbook(id=playbook_id, keywords=keywords, phrases=phrases,
                              min_ratio=float(ratio) if ratio is not None else None, content=content,
                              channels=answer_channels))
    return tuple(found)


def matches(playbook: Playbook, *, keyword: str, count: int, baseline: float, mentions: list[str]) -> bool:
    """Does this spike call for this playbook? A keyword or a phrase in a top mention, and the ratio."""
    if playbook.min_ratio is not None and count < playbook.min_ratio * max(baseline, 1.0):
        return False
    if keyword.casefold() in (k.casefold() for k in playbook.keywords):
        return True
    texts = [m.casefold() for m in mentions]
    return any(p.casefold() in text for p in playbook.phrases for text in texts)
