"""The streaming XLSX writer: what it writes reopens in openpyxl as the same values and settings."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from xml.etree import ElementTree

import openpyxl
import pytest

from planner.reports.xlsx_writer import HYPERLINK, Style, Workbook, column_letter, excel_serial


def test_column_letters():
    assert [column_letter(i) for i in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]


def test_excel_serial_matches_excel_epoch():
    assert excel_serial(date(1900, 3, 1)) == 61.0  # Excel's own serial for this date
    assert excel_serial(datetime(2027, 2, 1, 18, 0)) == pytest.approx(46419.75)


def test_values_round_trip(tmp_path):
    path = tmp_path / "a.xlsx"
    tricky = "Cek DPT <b>& \"Lawan\" Hoaks</b> 🇮🇩 — ayo!"
    with Workbook(path, title="Laporan & uji", creator="humas-planner") as book:
        ws = book.sheet("Data")
        moment = book.style(number_format="yyyy-mm-dd hh:mm")
        day = book.style(number_format="yyyy-mm-dd")
        ws.append(["teks", 42, 3.25, True, datetime(2027, 2, 1, 18, 30), date(2027, 2, 3), None, tricky],
                  [0, 0, 0, 0, moment, day, 0, 0])
        ws.append(["  spasi di tepi  ", "awal\x00\x07akhir\x1f", "=SUM(A1)", "x" * 40_000, -7, 10**15, 0.1])
    book = openpyxl.load_workbook(path)
    assert book.properties.title == "Laporan & uji" and book.properties.creator == "humas-planner"
    rows = list(book["Data"].iter_rows(values_only=True))
    assert rows[0] == ("teks", 42, 3.25, True, datetime(2027, 2, 1, 18, 30), datetime(2027, 2, 3), None, tricky)
    assert rows[1][:3] == ("  spasi di tepi  ", "awalakhir", "=SUM(A1)")  # text stays text: never a formula
    assert book["Data"]["C2"].data_type == "s"
    assert len(rows[1][3]) == 32_767  # Excel's limit per cell
    assert rows[1][4:7] == (-7, 10**15, 0.1)
    assert book["Data"]["E1"].number_format == "yyyy-mm-dd hh:mm"


def test_empty_cells_keep_columns_in_place(tmp_path):
    path = tmp_path / "gaps.xlsx"
    with Workbook(path) as book:
        ws = book.sheet("S")
        ws.append([None, "b", None, "", 4])
        ws.append([1, float("nan"), float("inf"), 2])
    sheet = openpyxl.load_workbook(path)["S"]
    assert sheet["B1"].value == "b" and sheet["E1"].value == 4 and sheet["A1"].value is None
    assert [c.value for c in sheet[2]][:4] == [1, None, None, 2]  # no NaN or infinity in Excel


def test_styles_layout_links_and_colour_scale(tmp_path):
    path = tmp_path / "b.xlsx"
    with Workbook(path) as book:
        ws = book.sheet("Unggahan", widths={1: 12, 3: 40}, freeze="A2")
        header = book.style(Style(bold=True, color="FFFFFF", fill="0B4F8A", wrap=True, vertical="center"))
        number, link = book.style(number_format="#,##0"), book.style(HYPERLINK)
        ws.append(["ID", "Jangkauan", "Tautan"], header)
        for n in range(1, 4):
            url = f"https://x.example/kpu/status/{n}?a=1&b=2"
            ws.append([n, n * 1000, url], [0, number, link], {3: url})
        ws.filter_all(3)
        grid = book.sheet("Waktu", freeze="B2")
        grid.append(["Hari", "00", "01"])
        grid.append(["Senin", 1.0, 2.0])
        grid.color_scale("B2:C2", "E3EEFA", "0B3D91")
    book = openpyxl.load_workbook(path)
    ws = book["Unggahan"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C4"
    assert ws.column_dimensions["A"].width == 12 and ws.column_dimensions["C"].width == 40
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb == "FF0B4F8A" and ws["A1"].alignment.wrap_text
    assert ws["B2"].number_format == "#,##0" and ws["B2"].value == 1000
    assert ws["C3"].hyperlink.target == "https://x.example/kpu/status/2?a=1&b=2"
    assert ws["C3"].font.u == "single"
    assert book["Waktu"].freeze_panes == "B2"
    rules = book["Waktu"].conditional_formatting
    assert [r.type for cf in rules for r in cf.rules] == ["colorScale"]


def test_sheet_names_follow_excel_rules(tmp_path):
    path = tmp_path / "names.xlsx"
    with Workbook(path) as book:
        for name in ("Per isu: hoaks/fakta?", "Per isu: hoaks/fakta?", "x" * 40, "'Kutip'"):
            book.sheet(name).append([name])
    names = openpyxl.load_workbook(path).sheetnames
    assert names[0] == "Per isu- hoaks-fakta-" and names[1] == "Per isu- hoaks-fakta- (2)"
    assert len(names[2]) == 31 and names[3] == "Kutip"
    assert len({n.lower() for n in names}) == 4


def test_every_part_is_well_formed_xml(tmp_path):
    path = tmp_path / "c.xlsx"
    with Workbook(path, title="<judul>\x07 & kontrol") as book:
        ws = book.sheet("A&B <C>")
        ws.append(["a < b & c > d", "\u200b", 1])
        ws.filter_all(3)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/styles.xml",
                "xl/worksheets/sheet1.xml", "docProps/core.xml"} <= set(names)
        for name in names:
            ElementTree.fromstring(archive.read(name))  # raises on anything malformed


def test_a_failed_write_does_not_look_complete(tmp_path):
    path = tmp_path / "d.xlsx"
    with pytest.raises(TypeError, match="cannot write object"):
        with Workbook(path) as book:
            book.sheet("S").append([object()])
    with zipfile.ZipFile(path) as archive:
        assert "xl/workbook.xml" not in archive.namelist()  # no workbook part: no spreadsheet opens it
