"""The report as ONE self-contained HTML file: opens offline, prints on A4.

No scripts, fonts or images from the network: the CSS is inline and every chart is an SVG drawn
here. All text that comes from people (campaign files, posts, mentions, platform answers) is
escaped. Titles, dates and numbers follow the current language (Indonesian by default).
Each chart has a stable id (chart-kpi, chart-engagement, chart-platforms, chart-audiences,
chart-issues, chart-heatmap, chart-mentions, chart-reliability).
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from planner.i18n import get_language, t
from planner.i18n.dates import DAYS, MONTHS, format_date, format_moment, format_number
from planner.reports.model import Report
from planner.reports.text import kpi_explanation
from planner.store.db import parse_utc

STATUS_COLOURS = {"achieved": "#1b7f3b", "on_track": "#43a047", "at_risk": "#e69500", "missed": "#c62828",
                  "not_started": "#8a8f98"}
RELIABILITY = (("on_time", "#2e7d32"), ("late", "#f0a020"), ("failed", "#c62828"), ("missed", "#8e1b1b"),
               ("needs_review", "#6a3fa0"), ("pending", "#8a8f98"), ("canceled", "#c7cbd1"))
PALETTE = ("#1565c0", "#d84315", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#9e7700", "#4e342e")
PLATFORM_COLOURS = {"x": "#222222", "facebook": "#1877f2", "instagram": "#c13584", "mastodon": "#6364ff",
                    "bluesky": "#0a7aff", "telegram": "#229ed9"}
ENGAGEMENT_COLOUR, REACH_COLOUR = "#1565c0", "#d84315"
NUM_CLASS = ' class="num"'
LONG_SECTIONS = ("breakdowns", "top-posts", "mentions", "fast-responses")  # may break across printed pages
HEAT_LOW, HEAT_HIGH = (0xe3, 0xee, 0xfa), (0x0b, 0x3d, 0x91)

CSS = """
:root { --ink: #1d232b; --muted: #5b6470; --line: #d9dde3; --soft: #f3f5f8; --accent: #0b4f8a; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: #fff; color: var(--ink); font: 14px/1.45 "Segoe UI", "Noto Sans", "DejaVu Sans",
       Roboto, Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 40px; }
header.report { border-bottom: 4px solid var(--accent); padding-bottom: 12px; margin-bottom: 8px; }
header.report .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: var(--accent);
                        font-weight: 700; margin: 0; }
h1 { font-size: 26px; margin: 4px 0 10px; line-height: 1.2; }
h2 { font-size: 19px; margin: 0 0 10px; color: var(--accent); border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
nav.toc { font-size: 12.5px; color: var(--muted); margin: 10px 0 0; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 12px; white-space: nowrap; }
section { margin: 26px 0 0; break-inside: avoid-page; page-break-inside: avoid; }
section.long { break-inside: auto; page-break-inside: auto; }
p.note { color: var(--muted); font-size: 12.5px; margin: 4px 0 8px; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 6px 0 10px; }
svg.chart text { font-family: inherit; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 7px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.na { color: var(--muted); font-style: italic; }
td.text { max-width: 420px; overflow-wrap: anywhere; }
tr { break-inside: avoid; page-break-inside: avoid; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
         font-weight: 600; white-space: nowrap; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 10px 24px; }
.callout { border-left: 4px solid #e69500; background: #fff8e8; padding: 8px 12px; margin: 8px 0; }
a { color: var(--accent); }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
         padding-top: 8px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  section { margin-top: 16px; }
  a { color: inherit; text-decoration: none; }
  .grid2 { grid-template-columns: 1fr 1fr; }
}
@media (max-width: 720px) { .grid2 { grid-template-columns: 1fr; } }
"""


def esc(value) -> str:
    """Every piece of user text goes through here (also inside SVG and attributes)."""
    return "" if value is None else html.escape(str(value), quote=True)


def safe_url(url) -> str | None:
    """Only http(s) links become links: a 'javascript:' URL from anywhere stays plain text."""
    if isinstance(url, str) and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None




class _Context:
    def __init__(self, report: Report, lang: str):
        self.report = report
        self.lang = lang
        self.zone = ZoneInfo(report.campaign["timezone"])
        self.na = t("report.not_available", lang)

    def tr(self, key: str, **params) -> str:
        return t(key, self.lang, **params)

    def num(self, value, decimals: int = 0) -> str:
        return self.na if value is None else format_number(value, self.lang, decimals)

    def moment(self, iso: str | None) -> str:
        return format_moment(parse_utc(iso), self.zone, self.lang) if iso else ""

    def short(self, moment: datetime, with_time: bool = True) -> str:
        local = moment.astimezone(self.zone)
        text = f"{local.day} {MONTHS[self.lang][local.month - 1][:3]}"
        if with_time:
            text += " " + local.strftime("%H.%M" if self.lang == "id" else "%H:%M")
        return text

    def zone_name(self) -> str:
        return f"{self.report.campaign['timezone']}, {datetime.now(self.zone).tzname()}"


def render_html(report: Report) -> str:
    c = _Context(report, get_language())
    sections = [
        ("kpi", t("report.kpis", c.lang), _kpis(c)),
        ("engagement", c.tr("report_html.engagement"), _engagement(c)),
        ("breakdowns", c.tr("report_html.breakdowns"), _breakdowns(c)),
        ("top-posts", t("report.top_posts", c.lang), _top_posts(c)),
        ("best-times", c.tr("report_html.heatmap"), _heatmap(c)),
        ("mentions", t("report.mentions", c.lang), _mentions(c)),
        ("fast-responses", t("report.fast_title", c.lang), _fast_responses(c)),
        *([("x-cost", c.tr("x_cost.report_title"), _x_cost(c))] if report.x_cost else []),
        ("reliability", t("report.reliability", c.lang), _reliability(c)),
        ("metrics-note", c.tr("report_html.metrics_note_title"), _metrics_note(c)),
    ]
    toc = " ".join(f'<a href="#{key}">{esc(title)}</a>' for key, title, _ in sections)
    body = "\n".join(
        f'<section id="{key}" class="{"long" if key in LONG_SECTIONS else ""}">'
        f"<h2>{esc(title)}</h2>\n{content}</section>"
        for key, title, content in sections)
    title = f"{t('report.title', c.lang)} — {report.campaign['name']}"
    return (
        f'<!DOCTYPE html>\n<html lang="{c.lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="humas-planner">\n<title>{esc(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{_header(c)}\n"
        f'<nav class="toc" aria-label="{esc(c.tr("report_html.contents"))}">{toc}</nav>\n{body}\n'
        f"<footer>{esc(c.tr('report_html.footer', when=c.moment(report.generated_at)))}</footer>\n"
        f"</main>\n</body>\n</html>\n")


# --- header -------------------------------------------------------------------------------------------
def _header(c: _Context) -> str:
    r, camp = c.report, c.report.campaign
    start, end = datetime.fromisoformat(camp["start"]), datetime.fromisoformat(camp["end"])
    period = f"{format_date(start, c.lang)} – {format_date(end, c.lang)}"
    if r.period_from or r.period_to:
        window = f"{c.moment(r.period_from) or '…'} – {c.moment(r.period_to) or '…'}"
    else:
        window = c.tr("report_html.whole_campaign")
    facts = [
        (c.tr("report_html.campaign_id"), esc(camp["id"])),
        (c.tr("report_html.owner"), esc(camp["owner"])),
        (c.tr("report_html.objective"), esc(camp["objective"])),
        (c.tr("report_html.campaign_period"), esc(period)),
        (c.tr("report_html.report_period"), esc(window)),
        (t("report.generated", c.lang), f'<span id="generated-at">{esc(c.moment(r.generated_at))}</span>'),
        (c.tr("report_html.timezone"), esc(c.zone_name())),
    ]
    if camp.get("keywords"):
        facts.append((c.tr("report_html.keywords"), esc(", ".join(camp["keywords"]))))
    rows = "\n".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    return (f'<header class="report"><p class="kicker">{esc(t("report.title", c.lang))}</p>'
            f'<h1 id="campaign-name">{esc(camp["name"])}</h1>\n<dl class="facts">\n{rows}\n</dl></header>')


# --- KPIs ---------------------------------------------------------------------------------------------
def _kpi_label(c: _Context, kpi: dict) -> str:
    where = t("campaign.all_platforms", c.lang) if kpi["platform"] == "all" else kpi["platform"]
    return f"{t('kpi.' + kpi['metric'], c.lang)} · {where}"


def _decimals(kpi: dict) -> int:
    return 1 if kpi["metric"].endswith("rate") else 0


def _kpis(c: _Context) -> str:
    kpis = c.report.kpis
    if not kpis:
        return f'<p class="note">{esc(c.tr("report_html.no_kpis"))}</p>' + _empty_chart("chart-kpi", c)
    scale = 125.0  # the bar shows 0..125 % of the target; the target line sits at 100 %
    width, left, right, row_h = 960, 310, 190, 34
    bar_w = width - left - right
    height = 30 + row_h * len(kpis)
    parts = [_svg_open("chart-kpi", width, height, t("report.kpis", c.lang))]
    target_x = left + bar_w * 100 / scale
    for i, kpi in enumerate(kpis):
        y = 12 + i * row_h
        colour = STATUS_COLOURS.get(kpi["status"], "#8a8f98")
        percent = max(0.0, kpi["percent"] or 0.0)
        fill = bar_w * min(percent, scale) / scale
        d = _decimals(kpi)
        parts.append(f'<text x="{left - 10}" y="{y + 16}" text-anchor="end" font-size="13" fill="#1d232b">'
                     f"{esc(_kpi_label(c, kpi))}</text>")
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{bar_w}" height="18" rx="3" fill="#eceff3"/>')
        parts.append(f'<rect class="kpi-bar" x="{left}" y="{y + 3}" width="{fill:.1f}" height="18" rx="3" '
                     f'fill="{colour}"><title>{esc(kpi_explanation(kpi))}</title></rect>')
        if percent > scale:
            parts.append(f'<path d="M{left + bar_w + 2},{y + 4} l8,8 l-8,8 z" fill="{colour}"/>')
        if kpi["projected"] is not None and kpi["status"] in ("on_track", "at_risk"):
            px = left + bar_w * min(kpi["projected"] / kpi["target"] * 100, scale) / scale
            parts.append(f'<path d="M{px:.1f},{y + 4} l8,8 l-8,8 l-8,-8 z" fill="#fff" stroke="#1d232b" '
                         f'stroke-width="1.5"><title>{esc(c.tr("report_html.col_projected"))}: '
                         f"{esc(c.num(kpi['projected'], d))}</title></path>")
        parts.append(f'<text x="{left + bar_w + 14}" y="{y + 16}" font-size="12.5" fill="#1d232b">'
                     f"{esc(c.num(kpi['actual'], d))} / {esc(c.num(kpi['target'], d))} "
                     f"({esc(c.num(percent, 0))}%)</text>")
    parts.append(f'<line x1="{target_x:.1f}" y1="8" x2="{target_x:.1f}" y2="{height - 14}" stroke="#1d232b" '
                 f'stroke-width="1.5" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{target_x:.1f}" y="{height - 2}" text-anchor="middle" font-size="11" '
                 f'fill="#5b6470">100%</text>')
    parts.append("</svg>")
    head = _thead(c, [("report.col_kpi", False), ("report.col_target", True), ("report.col_actual", True),
                      ("report.col_percent", True), ("report_html.col_projected", True),
                      ("report_html.col_deadline", False), ("report.col_status", False),
                      ("report_html.col_why", False)])
    rows = []
    for kpi in kpis:
        d = _decimals(kpi)
        badge = (f'<span class="badge status-{esc(kpi["status"])}" style="background:'
                 f'{STATUS_COLOURS.get(kpi["status"], "#8a8f98")}">{esc(t("report.status_" + kpi["status"], c.lang))}'
                 f"</span>")
        projected = "–" if kpi["projected"] is None else c.num(kpi["projected"], d)
        rows.append(f"<tr><td>{esc(_kpi_label(c, kpi))}</td><td class=\"num\">{esc(c.num(kpi['target'], d))}</td>"
                    f"<td class=\"num\">{esc(c.num(kpi['actual'], d))}</td>"
                    f"<td class=\"num\">{esc(c.num(kpi['percent'], 0))}%</td><td class=\"num\">{esc(projected)}</td>"
                    f"<td>{esc(format_date(datetime.fromisoformat(kpi['deadline']), c.lang))}</td>"
                    f"<td>{badge}</td><td class=\"why\">{esc(kpi_explanation(kpi))}</td></tr>")
    return (f'<p class="note">{esc(c.tr("report_html.kpi_note"))}</p>\n' + "".join(parts) +
            f'\n<table class="kpis">{head}<tbody>{"".join(rows)}</tbody></table>')


# --- engagement over time -----------------------------------------------------------------------------
def _engagement(c: _Context) -> str:
    points = [(parse_utc(p["at"]), p["engagements"], p["reach"]) for p in c.report.engagement_over_time]
    note = f'<p class="note">{esc(c.tr("report_html.engagement_note", zone=c.zone_name()))}</p>'
    if not points:
        return note + _empty_chart("chart-engagement", c)
    width, panel_h, gap = 960, 150, 44
    height = 20 + panel_h * 2 + gap + 40
    t0, t1 = points[0][0], points[-1][0]
    parts = [_svg_open("chart-engagement", width, height, c.tr("report_html.engagement"))]
    parts += _time_panel(c, 70, 20, width - 120, panel_h, t0, t1,
                         [(t("report.col_engagements", c.lang), ENGAGEMENT_COLOUR, [(p[0], p[1]) for p in points])],
                         x_labels=False)
    parts += _time_panel(c, 70, 20 + panel_h + gap, width - 120, panel_h, t0, t1,
                         [(t("report.col_reach", c.lang), REACH_COLOUR, [(p[0], p[2]) for p in points])],
                         x_labels=True)
    parts.append("</svg>")
    last = points[-1]
    summary = (f'<p class="note">{esc(c.short(last[0]))}: {esc(t("report.col_engagements", c.lang))} '
               f"<strong>{esc(c.num(last[1]))}</strong> · {esc(t('report.col_reach', c.lang))} "
               f"<strong>{esc(c.num(last[2]))}</strong></p>")
    return note + "".join(parts) + summary


def _nice_axis(value: float) -> tuple[float, float]:
    """(top, step) of an axis from 0 with three to five round steps, reaching at least ``value``."""
    if value <= 0:
        return 4.0, 1.0
    raw = value / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if raw <= s * power * (1 + 1e-9))
    if value >= 1 and step < 1:
        step = 1.0
    return step * max(1, math.ceil(value / step - 1e-9)), step


def _nice_max(value: float) -> float:
    return _nice_axis(value)[0]


TICK_STEPS = (300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400,
              30 * 86400)


def _time_ticks(t0: datetime, t1: datetime, zone) -> tuple[list[datetime], bool]:
    """Round local times between t0 and t1 (at most about 7), and whether the labels need the clock."""
    span = (t1 - t0).total_seconds()
    step = next((s for s in TICK_STEPS if span / s <= 7), TICK_STEPS[-1])
    local = t0.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if step < 86400:
        first = midnight + timedelta(seconds=math.ceil((local - midnight).total_seconds() / step) * step)
    else:
        first = midnight if midnight >= local else midnight + timedelta(days=1)
    ticks, moment = [], first
    while moment <= t1:
        ticks.append(moment)
        moment += timedelta(seconds=step)
    if len(ticks) < 2:  # a very short span: label its two ends
        return [t0, t1], True
    return ticks, step < 86400


def _time_panel(c: _Context, x0: float, y0: float, w: float, h: float, t0: datetime, t1: datetime,
                series: list[tuple[str, str, list[tuple[datetime, float]]]], *, x_labels: bool,
                markers: list[tuple[datetime, float, str]] = (), max_value: float = 0) -> list[str]:
    """One time-series panel: axes, grid, one line per series, optional spike markers."""
    if (t1 - t0) < timedelta(minutes=10):  # one moment, or a few close together: give the axis some room
        middle = t0 + (t1 - t0) / 2
        t0, t1 = middle - timedelta(minutes=5), middle + timedelta(minutes=5)
    span = (t1 - t0).total_seconds()
    top, y_step = _nice_axis(max([max_value, *(v for _, _, pts in series for _, v in pts)], default=0))
    decimals = 0 if y_step >= 1 else 2

    def sx(moment: datetime) -> float:
        return x0 + w * (moment - t0).total_seconds() / span

    def sy(value: float) -> float:
        return y0 + h - h * min(value, top) / top

    out = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#fbfcfd" stroke="#d9dde3"/>']
    for i in range(round(top / y_step) + 1):
        value = y_step * i
        y = sy(value)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#5b6470">'
                   f"{esc(c.num(value, decimals))}</text>")
    ticks, with_time = _time_ticks(t0, t1, c.zone)
    for moment in ticks:
        x = sx(moment)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#e3e6ea"/>')
        if x_labels:
            out.append(f'<text x="{x:.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11" fill="#5b6470">'
                       f"{esc(c.short(moment, with_time=with_time))}</text>")
    for moment, value, title in markers:
        x = sx(moment)
        out.append(f'<g class="spike"><line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#c62828" '
                   f'stroke-width="1.5" stroke-dasharray="5 3"/><path d="M{x - 7:.1f},{y0 - 12} l14,0 l-7,11 z" '
                   f'fill="#c62828"/><circle cx="{x:.1f}" cy="{sy(value):.1f}" r="5" fill="none" stroke="#c62828" '
                   f'stroke-width="2"/><title>{esc(title)}</title></g>')
    legend_x = x0 + 8
    for name, colour, pts in series:
        coords = " ".join(f"{sx(m):.1f},{sy(v):.1f}" for m, v in pts)
        if len(pts) > 1:
            out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2.2" '
                       f'stroke-linejoin="round" stroke-linecap="round"/>')
        if len(pts) <= 40:
            out += [f'<circle cx="{sx(m):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}"><title>'
                    f"{esc(c.short(m))}: {esc(c.num(v))}</title></circle>" for m, v in pts]
        out.append(f'<rect x="{legend_x}" y="{y0 + 8}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{legend_x + 16}" y="{y0 + 18}" font-size="12" fill="#1d232b">{esc(name)}</text>')
        legend_x += 30 + 7.5 * len(name)
    return out


# --- breakdowns ---------------------------------------------------------------------------------------
def _breakdowns(c: _Context) -> str:
    r = c.report
    metrics = ("reach", "views", "engagements", "likes", "reposts", "replies", "clicks")
    head = _thead(c, [("report.col_platform", False), ("report.col_published", True),
                      *((("report_html.col_views" if m == "views" else f"report.col_{m}"), True) for m in metrics)])
    rows = []
    platforms = r.platforms
    for row in platforms:
        cells = [f"<td>{esc(row['platform'])}</td>", f'<td class="num">{esc(c.num(row["published"]))}</td>']
        for metric in metrics:
            value = row.get(metric)
            cells.append(f'<td class="num na">{esc(c.na)}</td>' if value is None
                         else f'<td class="num">{esc(c.num(value))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    platform_table = (f'<table class="platforms">{head}<tbody>{"".join(rows)}</tbody></table>' if rows
                      else f'<p class="note">{esc(c.tr("report_html.no_data"))}</p>')
    platform_chart = _hbar_chart(
        c, "chart-platforms", c.tr("report_html.chart_engagements", what=t("report.col_platform", c.lang).lower()),
        [(row["platform"], row.get("engagements"), PLATFORM_COLOURS.get(row["platform"], PALETTE[0]))
         for row in platforms])
    out = [f"<h3>{esc(t('report.by_platform', c.lang))}</h3>", platform_chart, platform_table]
    for key, rows_, name_key, chart_id, title_key in (
            ("audience", r.audiences, "report_html.col_audience", "chart-audiences", "report_html.by_audience"),
            ("issue", r.issues, "report_html.col_issue", "chart-issues", "report_html.by_issue")):
        head = _thead(c, [(name_key, False), ("report_html.col_posts", True), ("report.col_reach", True),
                          ("report.col_engagements", True)])
        body = "".join(f"<tr><td>{esc(row[key])}</td><td class=\"num\">{esc(c.num(row['posts']))}</td>"
                       f"<td class=\"num\">{esc(c.num(row['reach']))}</td>"
                       f"<td class=\"num\">{esc(c.num(row['engagements']))}</td></tr>" for row in rows_)
        table = (f'<table class="{key}s">{head}<tbody>{body}</tbody></table>' if rows_
                 else f'<p class="note">{esc(c.tr("report_html.no_data"))}</p>')
        chart = _hbar_chart(c, chart_id, c.tr("report_html.chart_engagements", what=c.tr(name_key).lower()),
                            [(row[key], row["engagements"], PALETTE[i % len(PALETTE)]) for i, row in enumerate(rows_)])
        out += [f"<h3>{esc(c.tr(title_key))}</h3>", chart, table]
    return "\n".join(out)


def _hbar_chart(c: _Context, chart_id: str, label: str, items: list[tuple[str, float | None, str]]) -> str:
    """Horizontal bars; a None value is written 't/a' and drawn as no bar (never as a zero bar)."""
    if not items:
        return _empty_chart(chart_id, c)
    width, left, right, row_h = 960, 230, 110, 26
    bar_w = width - left - right
    top = _nice_max(max((v for _, v, _ in items if v is not None), default=0))
    height = 34 + row_h * len(items)
    parts = [_svg_open(chart_id, width, height, label),
             f'<text x="{left}" y="14" font-size="12" fill="#5b6470">{esc(label)}</text>']
    for i, (name, value, colour) in enumerate(items):
        y = 24 + i * row_h
        shown = name if len(name) <= 34 else name[:33] + "…"
        parts.append(f'<text x="{left - 10}" y="{y + 14}" text-anchor="end" font-size="12.5" fill="#1d232b">'
                     f"<title>{esc(name)}</title>{esc(shown)}</text>")
        parts.append(f'<rect x="{left}" y="{y}" width="{bar_w}" height="18" fill="#f3f5f8"/>')
        if value is None:
            parts.append(f'<text x="{left + 8}" y="{y + 14}" font-size="12" font-style="italic" fill="#5b6470">'
                         f"{esc(c.na)}</text>")
            continue
        parts.append(f'<rect class="bar" x="{left}" y="{y}" width="{bar_w * value / top:.1f}" height="18" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{left + bar_w + 8}" y="{y + 14}" font-size="12.5" fill="#1d232b">'
                     f"{esc(c.num(value))}</text>")
    parts.append("</svg>")
    return "".join(parts)


# --- top posts ----------------------------------------------------------------------------------------
def _top_posts(c: _Context) -> str:
    posts = c.report.top_posts
    if not posts:
        return f'<p class="note">{esc(c.tr("report_html.no_top_posts"))}</p>'
    head = _thead(c, [("report_html.col_rank", True), ("report_html.col_when", False),
                      ("report_html.col_channel", False), ("report_html.col_text", False),
                      ("report.col_engagements", True), ("report.col_reach", True), ("report_html.col_link", False)])
    rows = []
    for i, post in enumerate(posts, 1):
        text = " ".join((post.get("text") or "").split())
        if len(text) > 220:
            text = text[:219] + "…"
        url = safe_url(post.get("url"))
        link = (f'<a href="{esc(url)}" rel="noopener noreferrer" target="_blank">{esc(c.tr("report_html.open_link"))}'
                f"</a>" if url else esc(post.get("url") or ""))
        rows.append(f'<tr><td class="num">{i}</td><td>{esc(c.short(parse_utc(post["published_at"])))}</td>'
                    f"<td>{esc(post['channel'])} ({esc(post['platform'])})</td><td class=\"text\">{esc(text)}</td>"
                    f"<td class=\"num\">{esc(c.num(post['engagements']))}</td>"
                    f"<td class=\"num\">{esc(c.num(post['reach']))}</td><td class=\"link\">{link}</td></tr>")
    return f'<table class="top-posts">{head}<tbody>{"".join(rows)}</tbody></table>'


# --- best times ---------------------------------------------------------------------------------------
def _heat_colour(share: float) -> str:
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(HEAT_LOW, HEAT_HIGH))
    return f"#{r:02x}{g:02x}{b:02x}"


def _heatmap(c: _Context) -> str:
    grid = c.report.best_times or [[None] * 24 for _ in range(7)]
    values = [v for row in grid for v in row if v is not None]
    top = max(values, default=0)
    cell_w, cell_h, left, top_y = 34, 24, 90, 24
    width, height = left + cell_w * 24 + 10, top_y + cell_h * 7 + 50
    days = DAYS[c.lang]
    parts = [_svg_open("chart-heatmap", width, height, c.tr("report_html.heatmap")),
             '<defs><pattern id="nodata" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
             '<line x1="0" y1="0" x2="0" y2="6" stroke="#b9bec6" stroke-width="2"/></pattern></defs>']
    for hour in range(24):
        parts.append(f'<text x="{left + hour * cell_w + cell_w / 2}" y="{top_y - 8}" text-anchor="middle" '
                     f'font-size="11" fill="#5b6470">{hour:02d}</text>')
    for d in range(7):
        y = top_y + d * cell_h
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" font-size="12" fill="#1d232b">'
                     f"{esc(days[d])}</text>")
        for hour in range(24):
            value = grid[d][hour] if d < len(grid) and hour < len(grid[d]) else None
            x = left + hour * cell_w
            clock = f"{hour:02d}.00" if c.lang == "id" else f"{hour:02d}:00"
            if value is None:
                title = c.tr("report_html.cell_none", day=days[d], hour=clock)
                parts.append(f'<rect class="cell nodata" x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                             f'fill="url(#nodata)" stroke="#e0e3e7"><title>{esc(title)}</title></rect>')
            else:
                title = c.tr("report_html.cell_value", day=days[d], hour=clock, value=c.num(value, 1))
                colour = _heat_colour(value / top if top else 0)
                parts.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                             f'fill="{colour}"><title>{esc(title)}</title></rect>')
    ly = top_y + cell_h * 7 + 16
    parts.append(f'<rect x="{left}" y="{ly}" width="22" height="14" fill="url(#nodata)" stroke="#b9bec6"/>'
                 f'<text x="{left + 28}" y="{ly + 11}" font-size="11.5" fill="#5b6470">'
                 f"{esc(c.tr('report_html.legend_none'))}</text>")
    gx = left + 200
    parts.append(f'<text x="{gx - 6}" y="{ly + 11}" text-anchor="end" font-size="11.5" fill="#5b6470">'
                 f"{esc(c.tr('report_html.legend_low'))}</text>")
    for i in range(8):
        parts.append(f'<rect x="{gx + i * 22}" y="{ly}" width="22" height="14" fill="{_heat_colour(i / 7)}"/>')
    parts.append(f'<text x="{gx + 8 * 22 + 6}" y="{ly + 11}" font-size="11.5" fill="#5b6470">'
                 f"{esc(c.tr('report_html.legend_high', max=c.num(top, 1)))}</text>")
    parts.append("</svg>")
    note = f'<p class="note">{esc(c.tr("report_html.heatmap_note", zone=c.zone_name()))}</p>'
    return note + "".join(parts)


# --- mentions -----------------------------------------------------------------------------------------
def _mention_series(c: _Context) -> tuple[str, list[tuple[str, str, list[tuple[datetime, float]]]], datetime | None,
                                           datetime | None]:
    """Dense series per keyword (zero where nothing was heard): hourly, or daily over long periods."""
    raw = {k: [(parse_utc(p["at"]), p["count"]) for p in v] for k, v in c.report.mentions_over_time.items() if v}
    moments = [m for pts in raw.values() for m, _ in pts]
    if not moments:
        return "hour", [], None, None
    first, last = min(moments), max(moments)
    bucket = "hour" if last - first <= timedelta(days=14) else "day"
    if bucket == "day":
        def key(m: datetime) -> datetime:
            local = m.astimezone(c.zone)
            return datetime(local.year, local.month, local.day, tzinfo=c.zone).astimezone(timezone.utc)
        step = timedelta(days=1)
    else:
        def key(m: datetime) -> datetime:
            return m.replace(minute=0, second=0, microsecond=0)
        step = timedelta(hours=1)
    start, end = key(first), key(last)
    series = []
    for i, keyword in enumerate(sorted(raw)):
        counts: dict[datetime, int] = {}
        for moment, count in raw[keyword]:
            counts[key(moment)] = counts.get(key(moment), 0) + count
        points, moment = [], start
        while moment <= end:
            points.append((moment, counts.get(moment, 0)))
            moment = (moment + step) if bucket == "hour" else key(moment + step + timedelta(hours=3))
        series.append((keyword, PALETTE[i % len(PALETTE)], points))
    return bucket, series, start, end


def _mentions(c: _Context) -> str:
    r = c.report
    bucket, series, start, end = _mention_series(c)
    total = sum(p["count"] for pts in r.mentions_over_time.values() for p in pts)
    note = c.tr("report_html.mentions_note", bucket=c.tr("report_html.bucket_" + bucket), zone=c.zone_name())
    out = [f'<p class="note">{esc(note)} {esc(c.tr("report_html.mentions_total", count=c.num(total)))}</p>']
    spikes = r.spikes
    if series:
        spike_times = [parse_utc(s["at"]) for s in spikes]
        t0 = min([start, *spike_times])
        t1 = max([end, *spike_times])
        markers = [(parse_utc(s["at"]), float(s["window_count"]),
                    c.tr("report_html.spike_line", keyword=s["keyword"], count=c.num(s["window_count"]),
                         baseline=c.num(s["baseline"], 1))) for s in spikes]
        peak = max([float(s["window_count"]) for s in spikes] if bucket == "hour" else [], default=0)
        width, h = 960, 220
        svg = [_svg_open("chart-mentions", width, h + 60, t("report.mentions", c.lang))]
        svg += _time_panel(c, 60, 24, width - 110, h, t0, t1, series, x_labels=True, markers=markers, max_value=peak)
        svg.append("</svg>")
        out.append("".join(svg))
    else:
        out.append(f'<p class="note">{esc(c.tr("report_html.no_mentions"))}</p>')
        out.append(_empty_chart("chart-mentions", c))
    out.append(f"<h3>{esc(c.tr('report_html.spikes'))}</h3>")
    if spikes:
        head = _thead(c, [("report_html.col_keyword", False), ("report_html.col_time", False),
                          ("report_html.col_window", True), ("report_html.col_baseline", True)])
        rows = "".join(f'<tr class="spike-row"><td>{esc(s["keyword"])}</td><td>{esc(c.moment(s["at"]))}</td>'
                       f'<td class="num">{esc(c.num(s["window_count"]))}</td>'
                       f'<td class="num">{esc(c.num(s["baseline"], 1))}</td></tr>' for s in spikes)
        out.append(f'<div class="callout"><table class="spikes">{head}<tbody>{rows}</tbody></table></div>')
    else:
        out.append(f'<p class="note">{esc(c.tr("report_html.no_spikes"))}</p>')
    if r.top_mentions:
        out.append(f"<h3>{esc(c.tr('report_html.latest_mentions'))}</h3>")
        head = _thead(c, [("report_html.col_time", False), ("report_html.col_keyword", False),
                          ("report_html.col_source", False), ("report_html.col_author", False),
                          ("report_html.col_text", False)])
        rows = []
        for m in r.top_mentions:
            text = " ".join((m.get("text") or "").split())
            text = text if len(text) <= 240 else text[:239] + "…"
            url = safe_url(m.get("url"))
            shown = (f'<a href="{esc(url)}" rel="noopener noreferrer" target="_blank">{esc(text)}</a>' if url
                     else esc(text))
            rows.append(f"<tr><td>{esc(c.short(parse_utc(m['created_at'])))}</td><td>{esc(m['keyword'])}</td>"
                        f"<td>{esc(m['platform'])}</td><td>{esc(m.get('author') or '')}</td>"
                        f'<td class="text">{shown}</td></tr>')
        out.append(f'<table class="mentions">{head}<tbody>{"".join(rows)}</tbody></table>')
    return "\n".join(out)


# --- fast response ("respons cepat") --------------------------------------------------------------------
def _fast_responses(c: _Context) -> str:
    from planner.response.report import span

    fast = c.report.fast_responses or {}
    out = [f'<p class="note">{esc(c.tr("report.fast_note"))}</p>']
    if not fast.get("count"):
        out.append(f'<p class="note" id="fast-none">{esc(c.tr("report.fast_none"))}</p>')
        return "\n".join(out)
    facts = [("fast-count", "report.fast_responses", c.num(fast["count"])),
             ("fast-answered", "report.fast_answered", c.num(fast["answered"])),
             ("fast-median-first", "report.fast_median_first", span(fast.get("median_first_seconds"), c.lang)),
             ("fast-worst-first", "report.fast_worst_first", span(fast.get("worst_first_seconds"), c.lang)),
             ("fast-median-last", "report.fast_median_last", span(fast.get("median_seconds"), c.lang)),
             ("fast-worst-last", "report.fast_worst_last", span(fast.get("worst_seconds"), c.lang))]
    out.append('<dl class="facts fast-summary">' + "".join(
        f'<dt>{esc(c.tr(key))}</dt><dd id="{dom_id}">{esc(value)}</dd>' for dom_id, key, value in facts) + "</dl>")
    head = _thead(c, [("report.fast_col_alert", False), ("report_html.col_keyword", False),
                      ("report.fast_col_playbook", False), ("report.fast_col_content", False),
                      ("report.fast_col_detected", False), ("report.fast_col_first", True),
                      ("report.fast_col_last", True), ("report.fast_col_before", True),
                      ("report.fast_col_after", True)])
    rows, links = [], []
    for item in fast["responses"]:
        text = " ".join((item.get("clarification") or "").split())
        text = text if len(text) <= 240 else text[:239] + "…"
        last = (span(item["seconds_to_answer"], c.lang) if item["seconds_to_answer"] is not None
                else c.tr("report.fast_not_all"))
        rows.append(f'<tr class="fast-row"><td class="num">#{esc(item["alert_id"])}</td>'
                    f"<td>{esc(item['keyword'])}</td><td>{esc(item['playbook'])}</td>"
                    f'<td class="text"><strong>{esc(item["content"])}</strong><br>{esc(text)}</td>'
                    f"<td>{esc(c.moment(item['detected_at']))}</td>"
                    f'<td class="num">{esc(span(item["seconds_to_first"], c.lang))}</td>'
                    f'<td class="num">{esc(last)}</td>'
                    f'<td class="num">{esc(c.num(item["mentions_before"]))}</td>'
                    f'<td class="num">{esc(c.num(item["mentions_after"]))}</td></tr>')
        for channel in item.get("channels") or []:
            url = safe_url(channel.get("url"))
            link = (f'<a href="{esc(url)}" rel="noopener noreferrer" target="_blank">{esc(url)}</a>' if url
                    else esc(channel.get("url") or ""))
            links.append(f'<tr class="fast-channel"><td class="num">#{esc(item["alert_id"])}</td>'
                         f"<td>{esc(channel['channel'])} ({esc(channel['platform'])})</td>"
                         f"<td>{esc(t('state.' + channel['state'], c.lang))}</td>"
                         f"<td>{esc(c.moment(channel.get('published_at')))}</td>"
                         f'<td class="link">{link}</td></tr>')
    out.append(f'<table class="fast-responses">{head}<tbody>{"".join(rows)}</tbody></table>')
    if links:
        head = _thead(c, [("report.fast_col_alert", False), ("report_html.col_channel", False),
                          ("report_xlsx.col_state", False), ("report_html.col_when", False),
                          ("report_html.col_link", False)])
        out.append(f"<h3>{esc(c.tr('report.fast_channels'))}</h3>")
        out.append(f'<table class="fast-channels">{head}<tbody>{"".join(links)}</tbody></table>')
    return "\n".join(out)


# --- estimated X cost (planner.reports.model.x_cost) ------------------------------------------------------
def _x_cost(c: _Context) -> str:
    cost = c.report.x_cost
    line = c.tr("x_cost.report_line", usd=c.num(cost["usd"], 2), posts=c.num(cost["posts"]),
                with_link=c.num(cost["with_link"]), post=c.num(cost["post"], 3),
                post_with_link=c.num(cost["post_with_link"], 3))
    facts = [("x-cost-usd", "x_cost.sheet_usd", f"US$ {c.num(cost['usd'], 2)}"),
             ("x-cost-posts", "x_cost.sheet_posts", c.num(cost["posts"])),
             ("x-cost-with-link", "x_cost.sheet_with_link", c.num(cost["with_link"]))]
    return ('<dl class="facts x-cost-summary">' + "".join(
        f'<dt>{esc(c.tr(key))}</dt><dd id="{dom_id}">{esc(value)}</dd>' for dom_id, key, value in facts) + "</dl>"
        f'<p id="x-cost-line">{esc(line)}</p>')


# --- reliability --------------------------------------------------------------------------------------
def _reliability(c: _Context) -> str:
    counts = c.report.reliability
    items = [(c.tr(f"report_html.rel_{key}"), float(counts.get(key, 0)), colour) for key, colour in RELIABILITY
             if key != "canceled" or counts.get("canceled")]
    chart = _hbar_chart(c, "chart-reliability", t("report.reliability", c.lang), items)
    line = t("report.reliability_line", c.lang, on_time=c.num(counts.get("on_time", 0)),
             late=c.num(counts.get("late", 0)), failed=c.num(counts.get("failed", 0)),
             missed=c.num(counts.get("missed", 0)), review=c.num(counts.get("needs_review", 0)),
             pending=c.num(counts.get("pending", 0)))
    return (f'<p class="note">{esc(c.tr("report_html.reliability_note"))}</p>{chart}'
            f'<p id="reliability-line">{esc(line)}</p>')


# --- metrics not available ----------------------------------------------------------------------------
def _metrics_note(c: _Context) -> str:
    missing = c.report.metrics_not_available
    if not missing:
        return f'<p class="note">{esc(c.tr("report_html.all_metrics_available"))}</p>'
    return (f'<p class="callout" id="no-metrics-note">'
            f"{esc(t('report.no_metrics_note', c.lang, platforms=', '.join(missing)))}</p>")


# --- small parts --------------------------------------------------------------------------------------
def _svg_open(chart_id: str, width: float, height: float, label: str) -> str:
    return (f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}">')


def _empty_chart(chart_id: str, c: _Context) -> str:
    return (_svg_open(chart_id, 960, 60, c.tr("report_html.no_data")) +
            '<rect x="0.5" y="0.5" width="959" height="59" fill="#fbfcfd" stroke="#d9dde3" stroke-dasharray="4 3"/>'
            f'<text x="480" y="35" text-anchor="middle" font-size="13" fill="#5b6470">'
            f"{esc(c.tr('report_html.no_data'))}</text></svg>")


def _thead(c: _Context, columns: list[tuple[str, bool]]) -> str:
    cells = "".join(f"<th{NUM_CLASS if numeric else ''}>{esc(t(key, c.lang))}</th>" for key, numeric in columns)
    return f"<thead><tr>{cells}</tr></thead>"
