"""Link tracking: UTM parameters per campaign and platform, so web analytics can tell what worked."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

UTM_FIELDS = ("source", "medium", "campaign", "content")


def tag_link(url: str, template: dict[str, str], *, platform: str, campaign: str, content: str) -> str:
    """``url`` with utm_* parameters from ``template`` ('{platform}', '{campaign}', '{content}' filled in).

    Parameters already in the link are kept: a staff member's own tagging wins.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    values = {"platform": platform, "campaign": campaign, "content": content}
    for field in UTM_FIELDS:
        if field in template and f"utm_{field}" not in present:
            query.append((f"utm_{field}", template[field].format(**values)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tag_content_link(text: str, link: str | None, template: dict[str, str] | None, *, platform: str,
                     campaign: str, content: str) -> tuple[str, str | None]:
    """The text and link as they will be published: the link tagged, also where the text repeats it.

    Validation checks this tagged text, so a length limit is judged on what the platform receives.
    """
    if not link or not template:
        return text, link
    tagged = tag_link(link, template, platform=platform, campaign=campaign, content=content)
    return text.replace(link, tagged), tagged
