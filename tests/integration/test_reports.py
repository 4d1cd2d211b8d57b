"""Monitoring and evaluation reports from a real workspace: HTML, XLSX, JSON, CSV.

One workspace for the whole module: a campaign applied with `planner campaign apply`, published
for real through the sandbox (`planner publish --due`), metrics collected twice
(`planner metrics collect --force`), mentions heard with `planner listen` (with a burst, so a spike
is recorded). A few outcomes the sandbox cannot produce on demand (a late post, a failure) are set
with plain SQL. Then `planner report ... --format X --out F` is run as a real process and the file
is read back; the HTML is also opened in headless Chromium and its charts are checked for pixels.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from planner.sandbox import Sandbox
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
from planner.store.db import parse_utc, utc_iso

ZONE = ZoneInfo("Asia/Jakarta")
CAMPAIGN = "uji-laporan"
XSS = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://contoh.invalid","klik")'
CHART_IDS = ("chart-kpi", "chart-engagement", "chart-platforms", "chart-audiences", "chart-issues",
             "chart-heatmap", "chart-mentions", "chart-reliability")
SECTION_IDS = ("kpi", "engagement", "breakdowns", "top-posts", "best-times", "mentions", "reliability",
               "metrics-note")
CHANNELS = ["kpu_x", "kpu_fb", "kpu_mastodon", "kpu_bluesky", "kpu_telegram"]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)

PUBLISHING = ('grace = "2h"\nlease = "30s"\nworkers = 8\n'
              "[publishing.pacing]\nrate = 50.0\nburst = 20\nmax_in_flight = 8\n")


def campaign_toml(today: date, at: datetime) -> str:
    when = at.replace(tzinfo=None, microsecond=0).isoformat()
    return f"""
[campaign]
id = "{CAMPAIGN}"
name = "Cek DPT <b>& Lawan Hoaks</b>"
owner = "Humas KPU & Bawaslu \\"Demak\\""
timezone = "Asia/Jakarta"
start = {(today - timedelta(days=2)).isoformat()}
end = {(today + timedelta(days=28)).isoformat()}
channels = {json.dumps(CHANNELS)}

[goal]
objective = "Menambah pemilih pemula yang cek DPT <i>sebelum</i> hari H."

[[goal.kpi]]
metric = "reach"
target = 80000

[[goal.kpi]]
metric = "engagement_rate"
target = 4.5

[[goal.kpi]]
metric = "posts_published"
target = 6

[[audience]]
id = "pemula"
description = "Pemilih pemula"
platforms = ["x", "bluesky"]

[[audience]]
id = "warga"
description = "Warga umum"
platforms = ["facebook", "telegram"]

[[content]]
id = "cek-dpt"
issue = "Cek DPT"
audiences = ["pemula"]
text = "Pastikan namamu terdaftar di DPT. {XSS} Cek di cekdptonline.kpu.go.id."
at = {when}

[[content]]
id = "hoaks-bocor"
issue = "Isu <data> bocor"
audiences = ["pemula", "warga"]
text = '{FORMULA} FAKTA: data pemilih tidak bocor. Jangan bagikan pesan berantai.'
at = {when}

[[content]]
id = "terlewat"
issue = "Cek DPT"
audiences = ["warga"]
text = "Pengumuman lama yang tidak sempat terbit."
at = {when}
channels = ["kpu_telegram", "kpu_mastodon"]

[monitoring]
keywords = ["cek DPT", "hoaks pemilu"]
collect_every = "6h"
track_for = "7d"
spike_threshold = 1.5   # the sandbox's own trickle has burst hours too: the test's burst must stand out
"""


class Workspace:
    def __init__(self, root: Path, sandbox: Sandbox):
        self.root = root
        self.config = write_sandbox_config(root, sandbox.base_url, publishing=PUBLISHING)
        self.db = root / "planner.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMAS_SANDBOX_", "PLANNER_"))}
        self.env = export_sandbox_secrets(env)
        self.env.update({"PLANNER_CONFIG": str(self.config), "COLUMNS": "200", "PYTHONDONTWRITEBYTECODE": "1"})

    def planner(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "planner", *args], env=self.env, cwd=self.root,
                                capture_output=True, text=True, timeout=90)
        if check:
            assert result.returncode == 0, f"planner {' '.join(args)} -> {result.returncode}\n" \
                                           f"{result.stdout}\n{result.stderr}"
        return result

    def sql(self, statement: str, params=()) -> list[tuple]:
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            with conn:
                return conn.execute(statement, list(params)).fetchall()
        finally:
            conn.close()

    def shift(self, table: str, columns: tuple[str, ...], by: timedelta, where: str = "1") -> None:
        """Move stored UTC times (the text form of planner.store.db.utc_iso) by ``by``."""
        for row in self.sql(f"SELECT id, {', '.join(columns)} FROM {table} WHERE {where}"):
            moved = [utc_iso(parse_utc(value) + by) if value else value for value in row[1:]]
            self.sql(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?", [*moved, row[0]])

    def report(self, fmt: str, name: str, *extra: str) -> Path:
        out = self.root / "out" / name
        self.planner(*extra, "report", CAMPAIGN, "--format", fmt, "--out", str(out))
        assert out.is_file(), out
        return out


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """The workspace after publishing, two metric collections and listening (built once)."""
    with Sandbox(seed=5, speed=3000) as sandbox:
        w = Workspace(tmp_path_factory.mktemp("laporan"), sandbox)
        w.planner("init", str(w.root))
        now = datetime.now(ZONE)
        campaign = w.root / "campaigns" / f"{CAMPAIGN}.toml"
        campaign.parent.mkdir(exist_ok=True)
        campaign.write_text(campaign_toml(now.date(), now + timedelta(hours=2)), "utf-8")
        w.planner("campaign", "apply", str(campaign))

        # Move the posts' times into the past: two on time, one late (5 minutes), one beyond the grace.
        utc_now = datetime.now(timezone.utc)
        w.sql("UPDATE posts SET due_at = ? WHERE content_id = 'cek-dpt'", [utc_iso(utc_now - timedelta(seconds=5))])
        w.sql("UPDATE posts SET due_at = ? WHERE content_id = 'hoaks-bocor'",
              [utc_iso(utc_now - timedelta(seconds=5))])
        w.sql("UPDATE posts SET due_at = ? WHERE content_id = 'hoaks-bocor' AND channel = 'kpu_fb'",
              [utc_iso(utc_now - timedelta(minutes=5))])
        w.sql("UPDATE posts SET due_at = ? WHERE content_id = 'terlewat' AND channel = 'kpu_mastodon'",
              [utc_iso(utc_now - timedelta(hours=3))])
        # One that waits for a person (the sandbox cannot be told to refuse a post for good).
        w.sql("UPDATE posts SET state = 'needs_review', last_error = '-1 kesalahan' "
              "WHERE content_id = 'terlewat' AND channel = 'kpu_telegram'")
        w.publish_pass = w.planner("publish", "--due", check=False)  # exit 1: something missed; the report shows it

        # Spread the story over a few hours (the sandbox answers in real time): published 6 h ago,
        # first metrics 3 h ago, second metrics now.
        w.shift("posts", ("due_at", "published_at"), timedelta(hours=-6), "state = 'published'")
        w.planner("metrics", "collect", "--force")
        w.shift("metric_snapshots", ("collected_at",), timedelta(hours=-3))
        for campaign_id, at in w.sql("SELECT campaign_id, collected_at FROM metric_totals"):
            w.sql("UPDATE metric_totals SET collected_at = ? WHERE campaign_id = ? AND collected_at = ?",
                  [utc_iso(parse_utc(at) - timedelta(hours=3)), campaign_id, at])
        time.sleep(1.0)  # sandbox engagement grows with time: the second snapshot differs
        w.planner("metrics", "collect", "--force")

        sandbox.state.add_burst("hoaks pemilu", 60)
        w.planner("listen")
        yield w


@pytest.fixture(scope="module")
def html_id(ws) -> str:
    return ws.report("html", "laporan.html").read_text("utf-8")


# --- the workspace is what the report tests assume ---------------------------------------------------------
def test_workspace_has_published_posts_metrics_mentions_and_a_spike(ws):
    states = dict(ws.sql("SELECT state, COUNT(*) FROM posts GROUP BY state"))
    assert states.get("published") == 10, states
    assert states.get("missed") == 1 and states.get("needs_review") == 1, states
    assert ws.sql("SELECT COUNT(DISTINCT collected_at) FROM metric_snapshots")[0][0] >= 2
    assert ws.sql("SELECT COUNT(*) FROM mentions")[0][0] > 20
    assert ("hoaks pemilu",) in ws.sql("SELECT keyword FROM alerts")  # 'cek DPT' may have a sandbox burst hour


# --- HTML ----------------------------------------------------------------------------------------------------
class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: dict[str, str] = {}
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids[attrs["id"]] = tag
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_html_has_every_section_and_chart(html_id):
    page = parse(html_id)
    for section in SECTION_IDS:
        assert page.ids.get(section) == "section", section
    for chart in CHART_IDS:
        assert page.ids.get(chart) == "svg", chart
    assert page.title.startswith("Laporan Monitoring dan Evaluasi")
    assert '<html lang="id">' in html_id


def test_html_is_indonesian_with_indonesian_numbers_and_dates(html_id):
    text = " ".join(parse(html_id).text)
    assert "Laporan Monitoring dan Evaluasi" in text
    assert "Capaian target (KPI)" in text and "Keandalan penerbitan" in text
    assert "80.000" in text          # the reach target, Indonesian thousands
    assert "4,5" in text             # the engagement-rate target, Indonesian decimals
    assert "WIB" in text
    days = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
    assert all(day in text for day in days)  # heatmap rows
    assert any(f"{day}, " in text for day in days)  # "Kamis, 4 Februari 2027 10.00 WIB"
    assert "t/a = tidak tersedia: telegram" in text


def test_html_escapes_user_text(html_id):
    assert XSS not in html_id
    assert "<script" not in html_id.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_id
    assert "<b>& Lawan" not in html_id and "Cek DPT &lt;b&gt;&amp; Lawan Hoaks&lt;/b&gt;" in html_id
    assert "Isu &lt;data&gt; bocor" in html_id
    text = " ".join(parse(html_id).text)
    assert "Cek DPT <b>& Lawan Hoaks</b>" in text       # shown as written, not as markup
    assert 'Humas KPU & Bawaslu "Demak"' in text


def test_html_is_self_contained(html_id):
    page = parse(html_id)
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), (tag, attrs)
        if tag != "a":
            assert not any(str(v).startswith(("http:", "https:", "//")) for k, v in attrs.items()
                           if k in ("src", "href")), (tag, attrs)
    assert "@import" not in html_id and "url(http" not in html_id
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and attrs.get("href", "").startswith("http")]
    assert links and all(link.startswith(("http://127.0.0.1", "https://")) for link in links), links


def test_html_report_content(ws, html_id):
    page = parse(html_id)
    text = " ".join(page.text)
    assert page.ids.get("campaign-name") == "h1"
    assert "tepat waktu" in text and "terlambat 1" in text and "terlewat 1" in text and "perlu diperiksa 1" in text
    alerts = ws.sql("SELECT COUNT(*) FROM alerts")[0][0]
    assert html_id.count('class="spike"') == alerts and html_id.count('class="spike-row"') == alerts
    assert "hoaks pemilu" in text
    assert html_id.count('class="cell nodata"') + html_id.count('class="cell"') == 7 * 24
    assert 'class="cell"' in html_id  # some hours have data ...
    assert 'class="cell nodata"' in html_id  # ... most do not, and are drawn differently
    assert html_id.count('class="kpi-bar"') == 3


def test_english_report(ws):
    text = ws.report("html", "report-en.html", "--lang", "en").read_text("utf-8")
    page = parse(text)
    assert page.title.startswith("Monitoring and Evaluation Report")
    words = " ".join(page.text)
    assert "Monitoring and Evaluation Report" in words and "Publishing reliability" in words
    assert "80,000" in words and "4.5" in words
    assert "Monday" in words and "Senin" not in words
    assert all(page.ids.get(chart) == "svg" for chart in CHART_IDS)


# --- Chromium ------------------------------------------------------------------------------------------------
def read_png(path: Path) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw pixels) of an 8-bit RGB/RGBA, non-interlaced PNG (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, bpp, bytes(out)


def region_stats(png: tuple[int, int, int, bytes], box: tuple[int, int, int, int]) -> tuple[int, float, float]:
    """(distinct colours, share of non-white pixels, share of clearly coloured pixels) in box = (x, y, w, h)."""
    width, height, bpp, pixels = png
    x0, y0, w, h = box
    colours, inked, coloured, total = set(), 0, 0, 0
    for y in range(y0, min(y0 + h, height)):
        row = pixels[y * width * bpp:(y + 1) * width * bpp]
        for x in range(x0, min(x0 + w, width)):
            r, g, b = row[x * bpp:x * bpp + 3]
            colours.add((r >> 3, g >> 3, b >> 3))
            inked += (r + g + b) < 720
            coloured += max(r, g, b) - min(r, g, b) > 60
            total += 1
    return len(colours), inked / max(total, 1), coloured / max(total, 1)


def screenshot(page: Path, png: Path, size: str) -> None:
    profile = png.parent / f"profile-{png.stem}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={size}",
               f"--screenshot={png}", page.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert png.is_file() and png.stat().st_size > 0, f"no screenshot: {result.returncode}\n{result.stderr[-2000:]}"


def svg_of(text: str, chart_id: str) -> str:
    start = text.index(f'<svg id="{chart_id}"')
    return text[start:text.index("</svg>", start) + len("</svg>")]


BOX_W, BOX_H = 480, 270


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package 'chromium'); "
                                             "CI installs it in .ci/run")
def test_chromium_draws_the_charts(ws, html_id, tmp_path):
    # The whole report opens and renders offline.
    full = tmp_path / "laporan.html"
    full.write_text(html_id, "utf-8")
    screenshot(full, tmp_path / "full.png", "1280,4000")
    assert (tmp_path / "full.png").stat().st_size > 50_000

    # Every chart alone in a box of known place and size: each box must hold a drawing, not blank paper.
    boxes = "".join(f'<div style="position:absolute;left:0;top:{i * BOX_H}px;width:{BOX_W}px;height:{BOX_H}px;'
                    f'overflow:hidden">{svg_of(html_id, chart)}</div>' for i, chart in enumerate(CHART_IDS))
    page = tmp_path / "charts.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0;background:#fff}'
                    "svg{display:block;width:100%;height:auto}</style></head><body>" + boxes + "</body></html>",
                    "utf-8")
    png_path = tmp_path / "charts.png"
    screenshot(page, png_path, f"{BOX_W},{BOX_H * len(CHART_IDS)}")
    png = read_png(png_path)
    assert png[0] >= BOX_W and png[1] >= BOX_H * len(CHART_IDS), png[:2]
    for i, chart in enumerate(CHART_IDS):
        stats = region_stats(png, (0, i * BOX_H, BOX_W, BOX_H))
        colours, inked, coloured = stats
        assert colours >= 6 and inked >= 0.01 and coloured >= 0.002, (chart, stats)

    # Control: blank paper measures as blank, so the checks above can fail.
    blank = tmp_path / "blank.html"
    blank.write_text('<!DOCTYPE html><html><body style="margin:0;background:#fff"></body></html>', "utf-8")
    screenshot(blank, tmp_path / "blank.png", "120,90")
    colours, inked, coloured = region_stats(read_png(tmp_path / "blank.png"), (0, 0, 120, 90))
    assert colours <= 2 and inked == 0 and coloured == 0


# --- XLSX ----------------------------------------------------------------------------------------------------
def test_xlsx_workbook(ws):
    import openpyxl  # a dependency of the project (the xlsx format)

    book = openpyxl.load_workbook(ws.report("xlsx", "laporan.xlsx"))
    assert book.sheetnames[:6] == ["Ringkasan", "Per platform", "Per khalayak", "Per isu", "Unggahan", "Penyebutan"]
    summary = book["Ringkasan"]
    assert summary["A1"].value == "Laporan Monitoring dan Evaluasi"
    values = [c for row in summary.iter_rows(values_only=True) for c in row if c is not None]
    assert "Cek DPT <b>& Lawan Hoaks</b>" in values
    assert {"tercapai", "sesuai jalur", "berisiko", "tidak tercapai", "belum dimulai"} & set(values)
    assert 80000 in values and 4.5 in values

    posts = book["Unggahan"]
    header = [c.value for c in posts[1]]
    assert header[:5] == ["ID unggahan", "Konten", "Akun", "Platform", "Status"]
    assert posts.freeze_panes == "A2"
    rows = list(posts.iter_rows(min_row=2, values_only=True))
    assert len(rows) == ws.sql("SELECT COUNT(*) FROM posts WHERE campaign_id = ?", [CAMPAIGN])[0][0] == 12
    texts = [r[header.index("Isi unggahan")] for r in rows]
    formula_like = [t for t in texts if "HYPERLINK" in t]
    assert formula_like and all(t.startswith("'=") for t in formula_like)
    assert all(cell.data_type != "f" for row in posts.iter_rows() for cell in row)
    published = header.index("Terbit (WIB)")
    assert any(isinstance(r[published], datetime) for r in rows)
    first = next(i for i, r in enumerate(rows) if isinstance(r[published], datetime))
    assert posts.cell(first + 2, published + 1).number_format == "yyyy-mm-dd hh:mm"
    reach = header.index("Jangkauan")
    telegram = [r for r in rows if r[3] == "telegram" and r[4] == "terbit"]
    assert telegram and all(r[reach] == "t/a" for r in telegram)
    assert any(isinstance(r[reach], int) and r[reach] > 0 for r in rows if r[3] == "x")
    by_platform = book["Per platform"]
    platforms = {row[0].value: row for row in by_platform.iter_rows(min_row=2)}
    assert set(platforms) == {"x", "facebook", "mastodon", "bluesky", "telegram"}
    assert isinstance(platforms["x"][2].value, int) and platforms["x"][2].number_format == "#,##0"
    assert platforms["telegram"][2].value == "t/a"
    assert platforms["mastodon"][2].value == "t/a"  # Mastodon gives no reach: not available, not 0
    assert list(book["Penyebutan"].iter_rows(min_row=2, max_row=2, values_only=True))[0][0] in ("cek DPT",
                                                                                                   "hoaks pemilu")


def test_publish_due_exits_1_when_a_post_was_missed_in_the_pass(ws):
    """For cron: a pass that left a post missed (or failed, or needing review) is not a success."""
    missed = ws.sql("SELECT id FROM posts WHERE content_id = 'terlewat' AND channel = 'kpu_mastodon'")[0][0]
    assert ws.sql("SELECT state FROM posts WHERE id = ?", [missed])[0][0] == "missed"
    assert ws.publish_pass.returncode == 1, ws.publish_pass.stdout
    said = " ".join(ws.publish_pass.stdout.split())
    assert f"Perlu tindakan petugas: #{missed} (lihat 'planner status')." in said
    # The post set to needs_review before the pass is not this pass's doing.
    before = ws.sql("SELECT id FROM posts WHERE content_id = 'terlewat' AND channel = 'kpu_telegram'")[0][0]
    assert f"#{before}" not in said.split("Perlu tindakan petugas:")[1]


# --- JSON and CSV --------------------------------------------------------------------------------------------
def test_json_report(ws):
    data = json.loads(ws.report("json", "laporan.json").read_text("utf-8"))
    assert {"campaign", "generated_at", "kpis", "platforms", "audiences", "issues", "top_posts", "posts",
            "engagement_over_time", "best_times", "mentions_over_time", "spikes", "reliability",
            "metrics_not_available"} <= set(data)
    assert data["campaign"]["name"] == "Cek DPT <b>& Lawan Hoaks</b>"
    assert len(data["best_times"]) == 7 and all(len(row) == 24 for row in data["best_times"])
    assert data["metrics_not_available"] == ["telegram"]
    assert data["reliability"]["late"] == 1 and data["reliability"]["missed"] == 1


def test_csv_report(ws):
    """For Indonesian Excel: UTF-8 with a BOM, ';' between cells, Indonesian headers, times in WIB."""
    raw = ws.report("csv", "laporan.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["No. unggahan", "ID konten", "Akun", "Platform", "Status"]
    assert {"Jadwal (WIB)", "Terbit (WIB)", "Terlambat (detik)", "Teks"} <= set(header)
    assert len(body) == 12 and all(len(r) == len(header) for r in body)
    texts = [r[header.index("Teks")] for r in body]
    assert any(t.startswith("'=HYPERLINK") for t in texts)
    assert not any(t.startswith(("=", "+", "-", "@")) for r in body for t in r)
    # Local wall time of the campaign's zone, as Excel reads a date and time: the database's UTC moment + 7 h.
    due = {str(post_id): parse_utc(at).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
           for post_id, at in ws.sql("SELECT id, due_at FROM posts")}
    assert all(r[header.index("Jadwal (WIB)")] == due[r[0]] for r in body)
    assert {r[header.index("Status")] for r in body} >= {"terbit"}
    late = [r[header.index("Terlambat (detik)")] for r in body if r[header.index("Terlambat (detik)")]]
    assert late and all("." not in v for v in late)  # decimal comma


def test_csv_report_english_and_chosen_delimiter(ws):
    out = ws.root / "out" / "report-en.csv"
    ws.planner("--lang", "en", "report", CAMPAIGN, "--format", "csv", "--out", str(out))
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))
    assert rows[0][:2] == ["Post no.", "Content ID"] and "Scheduled (WIB)" in rows[0]
    assert {r[rows[0].index("State")] for r in rows[1:]} >= {"published"}
    tabbed = ws.root / "out" / "laporan-tab.csv"
    ws.planner("report", CAMPAIGN, "--format", "csv", "--delimiter", "tab", "--out", str(tabbed))
    assert tabbed.read_text("utf-8-sig").splitlines()[0].split("\t")[:2] == ["No. unggahan", "ID konten"]
    refused = ws.planner("report", CAMPAIGN, "--format", "json", "--delimiter", ";", check=False)
    assert refused.returncode == 2 and "--delimiter" in refused.stderr
