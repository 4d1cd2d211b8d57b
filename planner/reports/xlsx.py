"""The report as an Excel workbook: one sheet per table, ready to filter and sum.

Sheet names and headers follow the current language (Indonesian by default). Numbers are
real numbers with number formats, times are local times of the campaign's zone. Text from
people (posts, mentions, errors) that starts like a formula is marked with an apostrophe
(planner.reports.tabular.safe_cell), as in the CSV, so it stays text when copied on; a figure
a platform does not give is written "t/a", never 0.

Written with planner.reports.xlsx_writer, which streams rows to the file (see its docstring).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from planner.i18n import get_language, t
from planner.i18n.dates import format_date, format_moment, format_number
from planner.reports.model import Report
from planner.reports.tabular import FORMULA_START, safe_cell
from planner.reports.text import kpi_explanation
from planner.reports.xlsx_writer import HYPERLINK, Style, Workbook
from planner.store.db import parse_utc

INT = "#,##0"
DEC = "#,##0.0"
PERCENT = "0.0%"
USD = "#,##0.00"
PRICE = "#,##0.000"
MOMENT = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"
HEADER_FILL = "0B4F8A"
STATUS_FILLS = {"achieved": "C8E6C9", "on_track": "DCEDC8", "at_risk": "FFE0B2", "missed": "FFCDD2",
                "not_started": "E0E0E0"}
PLATFORM_METRICS = ("reach", "views", "engagements", "likes", "reposts", "replies", "quotes", "clicks")
POST_METRICS = ("reach", "engagements", "likes", "reposts", "replies", "quotes", "clicks", "views")
WIDTH_SAMPLE = 1_000  # rows looked at to size columns: a hint for the eye, capped at 60 anyway

HEADER = Style(bold=True, color="FFFFFF", fill=HEADER_FILL, wrap=True, vertical="center")
TITLE = Style(bold=True, size=14, color=HEADER_FILL)
SECTION = Style(bold=True, size=12, color=HEADER_FILL)
LABEL = Style(bold=True)
WRAPPED = Style(wrap=True, vertical="top")


def render_xlsx(report: Report, path: Path) -> None:
    lang = get_language()
    title = f"{t('report.title', lang)} — {report.campaign['name']}"
    with Workbook(path, title=title, creator="humas-planner") as book:
        w = _Writer(report, lang, book)
        w.summary()
        w.platforms()
        w.breakdown("audience", report.audiences, "report_xlsx.sheet_audiences", "report_html.col_audience")
        w.breakdown("issue", report.issues, "report_xlsx.sheet_issues", "report_html.col_issue")
        w.posts()
        w.mentions()
        w.spikes()
        w.fast_responses()
        w.latest_mentions()
        w.trend()
        w.best_times()


class _Writer:
    def __init__(self, report: Report, lang: str, book: Workbook):
        self.report = report
        self.lang = lang
        self.book = book
        self.zone = ZoneInfo(report.campaign["timezone"])
        self.zone_abbr = datetime.now(self.zone).tzname()
        self.na = t("report.not_available", lang)

    def tr(self, key: str, **params) -> str:
        return t(key, self.lang, zone=self.zone_abbr, **params)

    def local(self, iso: str | None) -> datetime | None:
        """Excel has no time zones: the campaign's local wall time, without zone."""
        return parse_utc(iso).astimezone(self.zone).replace(tzinfo=None) if iso else None

    # --- sheets -----------------------------------------------------------------------------------------
    def summary(self) -> None:
        r, camp, style = self.report, self.report.campaign, self.book.style
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
        ws = self.book.sheet(self.tr("report_xlsx.sheet_summary"), freeze="A2",
                             widths={1: 30, 2: 60, 3: 12, 4: 12, 5: 9, 6: 12, 7: 12, 8: 16, 9: 70})
        ws.append([t("report.title", self.lang)], style(TITLE))
        label, wrapped = style(LABEL), style(WRAPPED)
        for key, value in facts:
            ws.append([self.tr(key), safe_cell(value)], [label, wrapped])
        ws.append([])
        ws.append([t("report.kpis", self.lang)], style(SECTION))
        headers = [t("report.col_kpi", self.lang), t("report.col_platform", self.lang),
                   t("report.col_target", self.lang), t("report.col_actual", self.lang),
                   t("report.col_percent", self.lang), self.tr("report_html.col_projected"),
                   self.tr("report_html.col_deadline"), t("report.col_status", self.lang),
                   self.tr("report_html.col_why")]
        ws.append(headers, style(HEADER))
        percent, day = style(number_format=PERCENT), style(number_format=DAY)
        for kpi in r.kpis:
            number = style(number_format=DEC if kpi["metric"].endswith("rate") else INT)
            status = style(fill=STATUS_FILLS.get(kpi["status"], "FFFFFF"))
            ws.append([t("kpi." + kpi["metric"], self.lang),
                       t("campaign.all_platforms", self.lang) if kpi["platform"] == "all" else kpi["platform"],
                       kpi["target"], kpi["actual"], (kpi["percent"] or 0) / 100, kpi["projected"],
                       date.fromisoformat(kpi["deadline"]), t("report.status_" + kpi["status"], self.lang),
                       kpi_explanation(kpi)],
                      [0, 0, number, number, percent, number, day, status, wrapped])
        if r.x_cost:
            self._x_cost(ws)

    def _x_cost(self, ws) -> None:
        """The estimated X cost (planner.reports.model.x_cost) under the KPIs: figures to sum, and the sentence."""
        cost, style = self.report.x_cost, self.book.style
        label, usd, count = style(LABEL), style(number_format=USD), style(number_format=INT)
        price = style(number_format=PRICE)
        ws.append([])
        ws.append([self.tr("x_cost.report_title")], style(SECTION))
        for key, value, number in (("x_cost.sheet_usd", cost["usd"], usd), ("x_cost.sheet_posts", cost["posts"], count),
                                   ("x_cost.sheet_with_link", cost["with_link"], count),
                                   ("x_cost.sheet_post", cost["post"], price),
                                   ("x_cost.sheet_post_with_link", cost["post_with_link"], price)):
            ws.append([self.tr(key), value], [label, number])
        ws.append([self.tr("x_cost.report_line", usd=format_number(cost["usd"], self.lang, 2),
                           posts=format_number(cost["posts"], self.lang),
                           with_link=format_number(cost["with_link"], self.lang),
                           post=format_number(cost["post"], self.lang, 3),
                           post_with_link=format_number(cost["post_with_link"], self.lang, 3))], style(WRAPPED))

    def platforms(self) -> None:
        headers = [t("report.col_platform", self.lang), t("report.col_published", self.lang),
                   *(self._metric_header(m) for m in PLATFORM_METRICS)]
        rows = [[row["platform"], row["published"], *(self._figure(row.get(m)) for m in PLATFORM_METRICS)]
                for row in self.report.platforms]
        self._table("report_xlsx.sheet_platforms", headers, rows, {i: INT for i in range(2, len(headers) + 1)})

    def breakdown(self, key: str, rows_: list[dict], sheet_key: str, name_key: str) -> None:
        headers = [self.tr(name_key), self.tr("report_html.col_posts"), t("report.col_reach", self.lang),
                   t("report.col_engagements", self.lang)]
        rows = [[row[key], row["posts"], row["reach"], row["engagements"]] for row in rows_]
        self._table(sheet_key, headers, rows, {2: INT, 3: INT, 4: INT})

    def posts(self) -> None:
        headers = [self.tr("report_xlsx.col_post_id"), self.tr("report_xlsx.col_content"),
                   self.tr("report_html.col_channel"), t("report.col_platform", self.lang),
                   self.tr("report_xlsx.col_state"), self.tr("report_xlsx.col_due"),
                   self.tr("report_xlsx.col_published"), self.tr("report_xlsx.col_late"),
                   *(self._metric_header(m) for m in POST_METRICS),
                   self.tr("report_html.col_link"), self.tr("report_html.col_text"), self.tr("report_xlsx.col_error")]
        states: dict[str, str] = {}
        rows = []
        for post in self.report.posts:
            metrics = post.get("metrics") or {}
            state = post["state"]
            if state not in states:
                states[state] = t("state." + state, self.lang)
            figures = []
            for metric in POST_METRICS:
                value = post.get(metric) if metric in ("reach", "engagements") else metrics.get(metric)
                # A published post without the figure: the platform gives none (yet). Never 0.
                figures.append(self.na if value is None and state == "published" else value)
            rows.append([post["id"], post["content_id"], post["channel"], post["platform"], states[state],
                         self.local(post["due_at"]), self.local(post["published_at"]),
                         None if post["late_ms"] is None else round(post["late_ms"] / 1000, 1),
                         *figures, post.get("url"), post.get("text"), post.get("error")])
        formats = {6: MOMENT, 7: MOMENT, 8: DEC, **{9 + i: INT for i in range(len(POST_METRICS))}}
        self._table("report_xlsx.sheet_posts", headers, rows, formats,
                    widths={len(headers) - 2: 40, len(headers) - 1: 80, len(headers): 40},
                    link_column=len(headers) - 2)

    def mentions(self) -> None:
        spikes = {(s["keyword"], parse_utc(s["at"]).replace(minute=0, second=0, microsecond=0))
                  for s in self.report.spikes}
        rows = []
        for keyword in sorted(self.report.mentions_over_time):
            for point in self.report.mentions_over_time[keyword]:
                spiked = (keyword, parse_utc(point["at"])) in spikes
                rows.append([keyword, self.local(point["at"]), point["count"],
                             self.tr("report_xlsx.yes") if spiked else None])
        self._table("report_xlsx.sheet_mentions",
                    [self.tr("report_html.col_keyword"), self.tr("report_xlsx.col_time"),
                     self.tr("report_xlsx.col_count"), self.tr("report_xlsx.col_spike")], rows, {2: MOMENT, 3: INT})

    def spikes(self) -> None:
        # The alert's stored 'detail' is English whatever the language: the figures say the same.
        rows = [[s["keyword"], self.local(s["at"]), s["window_count"], s["baseline"]] for s in self.report.spikes]
        self._table("report_xlsx.sheet_spikes",
                    [self.tr("report_html.col_keyword"), self.tr("report_xlsx.col_time"),
                     self.tr("report_html.col_window"), self.tr("report_html.col_baseline")], rows,
                    {2: MOMENT, 3: INT, 4: DEC})

    def fast_responses(self) -> None:
        """The "respons cepat" sheet: the figures, one row per answered alert, one per channel of each answer."""
        fast, style = self.report.fast_responses or {}, self.book.style
        ws = self.book.sheet(self.tr("report.fast_title"), widths={1: 40, 2: 18, 3: 18, 4: 18, 5: 60, 6: 18,
                                                                    7: 16, 8: 16, 9: 14, 10: 14})
        label, dec, integer = style(LABEL), style(number_format=DEC), style(number_format=INT)
        ws.append([self.tr("report.fast_title")], style(TITLE))
        ws.append([self.tr("report.fast_note")], style(WRAPPED))
        if not fast.get("count"):
            ws.append([self.tr("report.fast_none")])
            return
        for key, value, number in (("report.fast_responses", fast["count"], integer),
                                   ("report.fast_answered", fast["answered"], integer),
                                   ("report.fast_median_first", fast.get("median_first_seconds"), dec),
                                   ("report.fast_worst_first", fast.get("worst_first_seconds"), dec),
                                   ("report.fast_median_last", fast.get("median_seconds"), dec),
                                   ("report.fast_worst_last", fast.get("worst_seconds"), dec)):
            name = self.tr(key) if number == integer else self.tr("report.fast_in_seconds", label=self.tr(key))
            ws.append([name, self.na if value is None else value], [label, number])
        ws.append([])
        ws.append([self.tr("report.fast_col_alert"), self.tr("report_html.col_keyword"),
                   self.tr("report.fast_col_playbook"), self.tr("report.fast_col_content"),
                   self.tr("report.fast_col_text"), self.tr("report.fast_col_detected_zone"),
                   self.tr("report.fast_col_first_s"), self.tr("report.fast_col_last_s"),
                   self.tr("report.fast_col_before"), self.tr("report.fast_col_after")], style(HEADER))
        styles = [0, 0, 0, 0, style(WRAPPED), style(number_format=MOMENT), dec, dec, integer, integer]
        for item in fast["responses"]:
            ws.append([item["alert_id"], safe_cell(item["keyword"]), safe_cell(item["playbook"]),
                       safe_cell(item["content"]), safe_cell(item.get("clarification")),
                       self.local(item["detected_at"]), item["seconds_to_first"],
                       item["seconds_to_answer"] if item["seconds_to_answer"] is not None
                       else self.tr("report.fast_not_all"),
                       item["mentions_before"], item["mentions_after"]], styles)
        ws.append([])
        ws.append([self.tr("report.fast_channels")], style(SECTION))
        ws.append([self.tr("report.fast_col_alert"), self.tr("report_html.col_channel"),
                   t("report.col_platform", self.lang), self.tr("report_xlsx.col_state"),
                   self.tr("report_html.col_link"), self.tr("report_xlsx.col_published")], style(HEADER))
        styles = [0, 0, 0, 0, style(HYPERLINK), style(number_format=MOMENT)]
        for item in fast["responses"]:
            for channel in item.get("channels") or []:
                url = channel.get("url")
                links = {5: url} if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None
                ws.append([item["alert_id"], channel["channel"], channel["platform"],
                           t("state." + channel["state"], self.lang), safe_cell(url),
                           self.local(channel.get("published_at"))], styles, links)

    def latest_mentions(self) -> None:
        rows = [[self.local(m["created_at"]), m["keyword"], m["platform"], m.get("author"), m.get("text"),
                 m.get("url")] for m in self.report.top_mentions]
        self._table("report_xlsx.sheet_latest_mentions",
                    [self.tr("report_xlsx.col_time"), self.tr("report_html.col_keyword"),
                     self.tr("report_html.col_source"), self.tr("report_html.col_author"),
                     self.tr("report_html.col_text"), self.tr("report_html.col_link")], rows, {1: MOMENT},
                    widths={5: 80, 6: 40}, link_column=6)

    def trend(self) -> None:
        rows = [[self.local(p["at"]), p["engagements"], p["reach"]] for p in self.report.engagement_over_time]
        self._table("report_xlsx.sheet_trend", [self.tr("report_xlsx.col_collected"),
                                                t("report.col_engagements", self.lang),
                                                t("report.col_reach", self.lang)], rows, {1: MOMENT, 2: INT, 3: INT})

    def best_times(self) -> None:
        from planner.i18n.dates import DAYS

        grid = self.report.best_times or [[None] * 24 for _ in range(7)]
        rows = [[DAYS[self.lang][d], *grid[d]] for d in range(7)]
        ws = self._table("report_xlsx.sheet_best_times", [self.tr("report_html.col_day"),
                                                          *(f"{h:02d}" for h in range(24))],
                         rows, {i: DEC for i in range(2, 26)}, autofilter=False, freeze="B2",
                         widths={i: 7 for i in range(2, 26)})
        ws.color_scale("B2:Y8", "E3EEFA", "0B3D91")

    # --- helpers ----------------------------------------------------------------------------------------
    def _table(self, sheet_key: str, headers: list[str], rows: list[list], formats: dict[int, str], *,
               widths: dict[int, float] | None = None, link_column: int | None = None, autofilter: bool = True,
               freeze: str = "A2"):
        """Header row (frozen, filtered), then the rows; numbers keep their formats, text is neutralised."""
        sample = rows[::max(1, len(rows) // WIDTH_SAMPLE)]
        sizes = {col: min(60, max(8, max([len(str(header)), *(_shown_len(r[col - 1]) for r in sample)]) + 2))
                 for col, header in enumerate(headers, 1)}
        ws = self.book.sheet(self.tr(sheet_key), widths={**sizes, **(widths or {})}, freeze=freeze)
        style = self.book.style
        ws.append(headers, style(HEADER))
        styles = [style(number_format=formats[col]) if col in formats else
                  style(HYPERLINK) if col == link_column else 0 for col in range(1, len(headers) + 1)]
        text_columns = [col - 1 for col in range(1, len(headers) + 1) if col not in formats]
        link = None if link_column is None else link_column - 1
        for values in rows:
            for i in text_columns:
                value = values[i]
                if type(value) is str and value[:1] in FORMULA_START:
                    values[i] = "'" + value
            url = values[link] if link is not None else None
            links = ({link_column: url} if isinstance(url, str) and url.lower().startswith(("https://", "http://"))
                     else None)
            ws.append(values, styles, links)
        if autofilter and rows:
            ws.filter_all(len(headers))
        return ws

    def _metric_header(self, metric: str) -> str:
        if metric == "views":
            return self.tr("report_html.col_views")
        if metric == "quotes":
            return self.tr("report_xlsx.col_quotes")
        return t(f"report.col_{metric}", self.lang)

    def _figure(self, value):
        return self.na if value is None else value


def _shown_len(value) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, (int, float)):
        return len(f"{value:,.1f}")
    return min(len(str(value)), 60)
