"""The report as an Excel workbook (openpyxl): one sheet per table, ready to filter and sum.

Sheet names and headers follow the current language (Indonesian by default). Numbers are
real numbers with number formats, times are local times of the campaign's zone. Text from
people (posts, mentions, errors) that starts like a formula is neutralised with
planner.reports.tabular.safe_cell; a figure a platform does not give is written "t/a",
never 0.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from planner.i18n import get_language, t
from planner.i18n.dates import format_date, format_moment
from planner.reports.model import Report
from planner.reports.tabular import safe_cell
from planner.reports.text import kpi_explanation
from planner.store.db import parse_utc

INT = "#,##0"
DEC = "#,##0.0"
PERCENT = "0.0%"
MOMENT = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"
HEADER_FILL = "0B4F8A"
STATUS_FILLS = {"achieved": "C8E6C9", "on_track": "DCEDC8", "at_risk": "FFE0B2", "missed": "FFCDD2",
                "not_started": "E0E0E0"}
PLATFORM_METRICS = ("reach", "views", "engagements", "likes", "reposts", "replies", "quotes", "clicks")
POST_METRICS = ("reach", "engagements", "likes", "reposts", "replies", "quotes", "clicks", "views")


def render_xlsx(report: Report, path: Path) -> None:
    from openpyxl import Workbook

    w = _Writer(report, get_language())
    # Write-only: rows stream to the file instead of living in memory as cell objects (100,000 posts
    # took 940 MB and 30 s the other way). Sheet settings must therefore be made before the rows.
    book = Workbook(write_only=True)
    book.properties.creator = "humas-planner"
    book.properties.title = f"{t('report.title', w.lang)} — {report.campaign['name']}"
    w.summary(book.create_sheet())
    w.platforms(book.create_sheet())
    w.breakdown(book.create_sheet(), "audience", report.audiences, "report_xlsx.sheet_audiences",
                "report_html.col_audience")
    w.breakdown(book.create_sheet(), "issue", report.issues, "report_xlsx.sheet_issues", "report_html.col_issue")
    w.posts(book.create_sheet())
    w.mentions(book.create_sheet())
    w.spikes(book.create_sheet())
    w.latest_mentions(book.create_sheet())
    w.trend(book.create_sheet())
    w.best_times(book.create_sheet())
    book.save(str(path))


class _Writer:
    def __init__(self, report: Report, lang: str):
        self.report = report
        self.lang = lang
        self.zone = ZoneInfo(report.campaign["timezone"])
        self.zone_abbr = datetime.now(self.zone).tzname()
        self.na = t("report.not_available", lang)

    def tr(self, key: str, **params) -> str:
        return t(key, self.lang, zone=self.zone_abbr, **params)

    def local(self, iso: str | None) -> datetime | None:
        """Excel has no time zones: the campaign's local wall time, without zone."""
        return parse_utc(iso).astimezone(self.zone).replace(tzinfo=None) if iso else None

    # --- sheets -----------------------------------------------------------------------------------------
    def summary(self, ws) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill

        r, camp = self.report, self.report.campaign
        ws.title = self.tr("report_xlsx.sheet_summary")
        start, end = date.fromisoformat(camp["start"]), date.fromisoformat(camp["end"])
        window = (f"{format_moment(parse_utc(r.period_from), self.zone, self.lang) if r.period_from else '…'} – "
                  f"{format_moment(parse_utc(r.period_to), self.zone, self.lang) if r.period_to else '…'}"
                  if r.period_from or r.period_to else self.tr("report_html.whole_campaign"))
        counts = r.reliability
        facts = [
            ("report_xlsx.campaign_name", camp["name"]),
            ("report_html.campaign_id", camp["id"]),
            ("report_html.owner", camp["owner"]),
            ("report_html.objective", camp["objective"]),
            ("report_html.campaign_period", f"{format_date(start, self.lang)} – {format_date(end, self.lang)}"),
            ("report_html.report_period", window),
            ("report.generated", format_moment(parse_utc(r.generated_at), self.zone, self.lang)),
            ("report_html.timezone", f"{camp['timezone']} ({self.zone_abbr})"),
            ("report_html.keywords", ", ".join(camp.get("keywords") or [])),
            ("report.reliability", t("report.reliability_line", self.lang, on_time=counts.get("on_time", 0),
                                     late=counts.get("late", 0), failed=counts.get("failed", 0),
                                     missed=counts.get("missed", 0), review=counts.get("needs_review", 0),
                                     pending=counts.get("pending", 0))),
        ]
        if r.metrics_not_available:
            facts.append(("report_html.metrics_note_title",
                          t("report.no_metrics_note", self.lang, platforms=", ".join(r.metrics_not_available))))
        ws.freeze_panes = "A2"
        _widths(ws, {1: 30, 2: 60, 3: 12, 4: 12, 5: 9, 6: 12, 7: 12, 8: 16, 9: 70})
        ws.append([_cell(ws, t("report.title", self.lang), font=Font(bold=True, size=14, color=HEADER_FILL))])
        for key, value in facts:
            ws.append([_cell(ws, self.tr(key), font=Font(bold=True)),
                       _cell(ws, _text(value), alignment=Alignment(wrap_text=True, vertical="top"))])
        ws.append([])
        ws.append([_cell(ws, t("report.kpis", self.lang), font=Font(bold=True, size=12, color=HEADER_FILL))])
        headers = [t("report.col_kpi", self.lang), t("report.col_platform", self.lang),
                   t("report.col_target", self.lang), t("report.col_actual", self.lang),
                   t("report.col_percent", self.lang), self.tr("report_html.col_projected"),
                   self.tr("report_html.col_deadline"), t("report.col_status", self.lang),
                   self.tr("report_html.col_why")]
        ws.append(_header_cells(ws, headers))
        for kpi in r.kpis:
            number = DEC if kpi["metric"].endswith("rate") else INT
            ws.append([t("kpi." + kpi["metric"], self.lang),
                       t("campaign.all_platforms", self.lang) if kpi["platform"] == "all" else kpi["platform"],
                       _cell(ws, kpi["target"], number_format=number), _cell(ws, kpi["actual"], number_format=number),
                       _cell(ws, (kpi["percent"] or 0) / 100, number_format=PERCENT),
                       _cell(ws, kpi["projected"], number_format=number),
                       _cell(ws, date.fromisoformat(kpi["deadline"]), number_format=DAY),
                       _cell(ws, t("report.status_" + kpi["status"], self.lang),
                             fill=PatternFill("solid", fgColor=STATUS_FILLS.get(kpi["status"], "FFFFFF"))),
                       _cell(ws, kpi_explanation(kpi), alignment=Alignment(wrap_text=True, vertical="top"))])

    def platforms(self, ws) -> None:
        ws.title = self.tr("report_xlsx.sheet_platforms")
        headers = [t("report.col_platform", self.lang), t("report.col_published", self.lang),
                   *(self._metric_header(m) for m in PLATFORM_METRICS)]
        rows = [[row["platform"], row["published"], *(self._figure(row.get(m)) for m in PLATFORM_METRICS)]
                for row in self.report.platforms]
        _table(ws, headers, rows, {i: INT for i in range(2, len(headers) + 1)})

    def breakdown(self, ws, key: str, rows_: list[dict], sheet_key: str, name_key: str) -> None:
        ws.title = self.tr(sheet_key)
        headers = [self.tr(name_key), self.tr("report_html.col_posts"), t("report.col_reach", self.lang),
                   t("report.col_engagements", self.lang)]
        rows = [[row[key], row["posts"], row["reach"], row["engagements"]] for row in rows_]
        _table(ws, headers, rows, {2: INT, 3: INT, 4: INT})

    def posts(self, ws) -> None:
        ws.title = self.tr("report_xlsx.sheet_posts")
        headers = [self.tr("report_xlsx.col_post_id"), self.tr("report_xlsx.col_content"),
                   self.tr("report_html.col_channel"), t("report.col_platform", self.lang),
                   self.tr("report_xlsx.col_state"), self.tr("report_xlsx.col_due"),
                   self.tr("report_xlsx.col_published"), self.tr("report_xlsx.col_late"),
                   *(self._metric_header(m) for m in POST_METRICS),
                   self.tr("report_html.col_link"), self.tr("report_html.col_text"), self.tr("report_xlsx.col_error")]
        rows = []
        for post in self.report.posts:
            metrics = post.get("metrics") or {}
            figures = []
            for metric in POST_METRICS:
                value = post.get(metric) if metric in ("reach", "engagements") else metrics.get(metric)
                # A published post without the figure: the platform gives none (yet). Never 0.
                figures.append(self.na if value is None and post["state"] == "published" else value)
            rows.append([post["id"], post["content_id"], post["channel"], post["platform"],
                         t("state." + post["state"], self.lang), self.local(post["due_at"]),
                         self.local(post["published_at"]),
                         None if post["late_ms"] is None else round(post["late_ms"] / 1000, 1),
                         *figures, post.get("url"), post.get("text"), post.get("error")])
        formats = {6: MOMENT, 7: MOMENT, 8: DEC, **{9 + i: INT for i in range(len(POST_METRICS))}}
        _table(ws, headers, rows, formats, widths={len(headers) - 2: 40, len(headers) - 1: 80, len(headers): 40},
               link_column=len(headers) - 2)

    def mentions(self, ws) -> None:
        ws.title = self.tr("report_xlsx.sheet_mentions")
        spikes = {(s["keyword"], parse_utc(s["at"]).replace(minute=0, second=0, microsecond=0))
                  for s in self.report.spikes}
        rows = []
        for keyword in sorted(self.report.mentions_over_time):
            for point in self.report.mentions_over_time[keyword]:
                spiked = (keyword, parse_utc(point["at"])) in spikes
                rows.append([keyword, self.local(point["at"]), point["count"],
                             self.tr("report_xlsx.yes") if spiked else None])
        _table(ws, [self.tr("report_html.col_keyword"), self.tr("report_xlsx.col_time"),
                    self.tr("report_xlsx.col_count"), self.tr("report_xlsx.col_spike")], rows, {2: MOMENT, 3: INT})

    def spikes(self, ws) -> None:
        ws.title = self.tr("report_xlsx.sheet_spikes")
        # The alert's stored 'detail' is English whatever the language: the figures say the same.
        rows = [[s["keyword"], self.local(s["at"]), s["window_count"], s["baseline"]] for s in self.report.spikes]
        _table(ws, [self.tr("report_html.col_keyword"), self.tr("report_xlsx.col_time"),
                    self.tr("report_html.col_window"), self.tr("report_html.col_baseline")], rows,
               {2: MOMENT, 3: INT, 4: DEC})

    def latest_mentions(self, ws) -> None:
        ws.title = self.tr("report_xlsx.sheet_latest_mentions")
        rows = [[self.local(m["created_at"]), m["keyword"], m["platform"], m.get("author"), m.get("text"),
                 m.get("url")] for m in self.report.top_mentions]
        _table(ws, [self.tr("report_xlsx.col_time"), self.tr("report_html.col_keyword"),
                    self.tr("report_html.col_source"), self.tr("report_html.col_author"),
                    self.tr("report_html.col_text"), self.tr("report_html.col_link")], rows, {1: MOMENT},
               widths={5: 80, 6: 40}, link_column=6)

    def trend(self, ws) -> None:
        ws.title = self.tr("report_xlsx.sheet_trend")
        rows = [[self.local(p["at"]), p["engagements"], p["reach"]] for p in self.report.engagement_over_time]
        _table(ws, [self.tr("report_xlsx.col_collected"), t("report.col_engagements", self.lang),
                    t("report.col_reach", self.lang)], rows, {1: MOMENT, 2: INT, 3: INT})

    def best_times(self, ws) -> None:
        from openpyxl.formatting.rule import ColorScaleRule

        from planner.i18n.dates import DAYS

        ws.title = self.tr("report_xlsx.sheet_best_times")
        grid = self.report.best_times or [[None] * 24 for _ in range(7)]
        rows = [[DAYS[self.lang][d], *grid[d]] for d in range(7)]
        _table(ws, [self.tr("report_html.col_day"), *(f"{h:02d}" for h in range(24))], rows,
               {i: DEC for i in range(2, 26)}, autofilter=False, freeze="B2", widths={i: 7 for i in range(2, 26)})
        ws.conditional_formatting.add("B2:Y8", ColorScaleRule(start_type="min", start_color="E3EEFA",
                                                              end_type="max", end_color="0B3D91"))

    # --- helpers ----------------------------------------------------------------------------------------
    def _metric_header(self, metric: str) -> str:
        if metric == "views":
            return self.tr("report_html.col_views")
        if metric == "quotes":
            return self.tr("report_xlsx.col_quotes")
        return t(f"report.col_{metric}", self.lang)

    def _figure(self, value):
        return self.na if value is None else value


def _text(value):
    """User text made safe for a cell: no formula, no characters Excel files cannot hold."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = safe_cell(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _cell(ws, value, **style):
    """A write-only cell with its style (font, fill, alignment, number_format, style, hyperlink)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _header_cells(ws, headers: list[str]) -> list:
    from openpyxl.styles import Alignment, Font, PatternFill

    font, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor=HEADER_FILL)
    alignment = Alignment(vertical="center", wrap_text=True)
    return [_cell(ws, h, font=font, fill=fill, alignment=alignment) for h in headers]


def _table(ws, headers: list[str], rows: list[list], formats: dict[int, str], *, widths: dict[int, float] = None,
           link_column: int | None = None, autofilter: bool = True, freeze: str = "A2") -> None:
    """Header row (frozen, filtered), then the rows; numbers keep their formats, text is neutralised."""
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = freeze  # sheet settings come before the rows in a write-only sheet
    for col, header in enumerate(headers, 1):
        longest = max([len(str(header)), *(_shown_len(r[col - 1]) for r in rows)])
        ws.column_dimensions[get_column_letter(col)].width = min(60, max(8, longest + 2))
    _widths(ws, widths or {})
    if autofilter and rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    ws.append(_header_cells(ws, headers))
    for values in rows:
        cells = []
        for col, value in enumerate(values, 1):
            value = _text(value)
            if col in formats and isinstance(value, (int, float, datetime, date)):
                value = _cell(ws, value, number_format=formats[col])
            elif col == link_column and isinstance(value, str) and value.lower().startswith(("https://", "http://")):
                value = _cell(ws, value, hyperlink=value, style="Hyperlink")
            cells.append(value)
        ws.append(cells)


def _widths(ws, widths: dict[int, float]) -> None:
    from openpyxl.utils import get_column_letter

    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = width


def _shown_len(value) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, (int, float)):
        return len(f"{value:,.1f}")
    return min(len(str(value)), 60)
