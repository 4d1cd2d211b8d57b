"""`planner campaign preview FILE`: every post as it will be published, with its length against the limit."""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli.common import EXIT_PROBLEMS, console, esc, fail, options
from planner.i18n import t


def register(app: typer.Typer) -> None:
    @app.command("preview", help=t("help.campaign_preview"))
    def preview(
        file: Path = typer.Argument(..., help=t("help.preview_file")),
        content: str = typer.Option(None, "--content", help=t("help.preview_content")),
        channel: str = typer.Option(None, "--channel", help=t("help.preview_channel")),
    ) -> None:
        from planner.campaign_files import desired_posts
        from planner.cli.campaign import _check_files, _print_problems

        config, [result] = _check_files([file])
        if config is None:
            from planner.config import find_config_path

            fail(t("config.not_found", path=str(find_config_path(options.config))))
        if _print_problems([result]):
            console().print(t("preview.fix_first"))
            raise typer.Exit(EXIT_PROBLEMS)
        rows = [r for r in desired_posts(result.campaign, result.file, config)
                if (content is None or r["content_id"] == content) and (channel is None or r["channel"] == channel)]
        if not rows:
            fail(t("preview.nothing"), EXIT_PROBLEMS)
        _print(result.campaign, rows, config)


def _print(campaign, rows: list[dict], config) -> None:
    from planner.domain.text_rules import LIMITS, append_link, text_length
    from planner.i18n.dates import format_moment
    from planner.store.text_limits import remembered_in

    out = console()
    from planner.store.backend import database_of

    own_limits = remembered_in(database_of(config) if config else None)
    from planner.platforms.mention_check import check_mentions

    # Bluesky @handles no one has stay plain text and notify nobody; a server that cannot be asked says nothing here
    unknown: dict[tuple[str, str], list[str]] = {}
    for content_id, channel, handle in check_mentions(config, rows).unknown:
        unknown.setdefault((content_id, channel), []).append(handle)
    issues = {item.id: item.issue for item in campaign.content}
    firsts: dict[tuple[str, str], dict] = {}
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["content_id"], row["channel"])
        firsts.setdefault(key, row)
        counts[key] = counts.get(key, 0) + 1
    for content_id in dict.fromkeys(row["content_id"] for row in rows):
        group = [row for key, row in firsts.items() if key[0] == content_id]
        first = group[0]
        due = (format_moment(first["due_at"], campaign.timezone) if first["due_at"] else t("preview.next_slot"))
        repeats = counts[(content_id, first["channel"])] - 1
        out.print(f"\n[bold]{esc(content_id)}[/] · {esc(issues.get(content_id) or '-')} · {esc(due)}"
                  + (esc(t("preview.repeats", count=repeats)) if repeats else ""))
        for row in group:
            rules = LIMITS[row["platform"]]
            text_limit = own_limits.get(row["channel"]) or rules["text_limit"]  # the instance's, once checked
            limit = rules["caption_limit"] if row["media"] and rules["caption_limit"] else text_limit
            published = append_link(row["text"], row["link"])
            length = text_length(row["platform"], published)
            colour = "red" if length > limit else "green"
            media = f" · {t('preview.media', count=len(row['media']))}" if row["media"] else ""
            out.print(f"  [cyan]{esc(row['channel'])}[/] ({row['platform']}) · "
                      f"[{colour}]{esc(t('preview.length', length=length, limit=limit))}[/]{esc(media)}")
            for line in published.splitlines() or [""]:
                out.print(f"    │ {esc(line)}")
            for n, part in enumerate(row["thread"], 2):
                part_length = text_length(row["platform"], part)
                label = t("preview.comment_part" if rules.get("thread_as") == "comments" else "preview.thread_part",
                          n=n)
                out.print(f"    ↳ {esc(label)} · "
                          f"{esc(t('preview.length', length=part_length, limit=text_limit))}")
                for line in part.splitlines() or [""]:
                    out.print(f"      │ {esc(line)}")
            for handle in unknown.get((row["content_id"], row["channel"]), []):
                out.print(f"    [yellow]![/] {esc(t('preview.unknown_mention', handle=handle))}")
            for path in row["media"]:
                out.print(f"    {_media_line(row['platform'], path)}")


def _media_line(platform: str, path: str) -> str:
    """One media file as the platform gets it: a video with its length and how it is sent (LIMITS' "via")."""
    from planner.domain.media import video_duration
    from planner.domain.text_rules import media_rules

    name = Path(path).name
    try:
        kind, spec = media_rules(platform, name)
    except KeyError:
        kind, spec = None, {}
    if kind not in ("video", "gif"):
        return f"🖼 {esc(name)}"
    if kind == "gif":
        what = t("preview.gif")
    else:
        seconds = video_duration(path)
        what = (t("preview.video", seconds=f"{seconds:.1f}".rstrip("0").rstrip("."))
                if seconds is not None else t("preview.video_unknown"))
    via = f" · {t('preview.via', how=spec['via'])}" if spec.get("via") else ""
    return f"🎞 {esc(name)} · {esc(what)}{esc(via)}"
