"""A one-sheet workbook whose rows are written as XML text: openpyxl writes the package
(workbook, styles, theme, the sheet's columns, frozen header and header row), this
module writes each data row's XML into the sheet in openpyxl's own form.

openpyxl's write-only mode builds an element per cell and serialises it through
et_xmlfile: a due-list row of 14 cells cost 155 µs of CPU that way and 32 µs here, the
cell values made alike in both (bench/xlsx_rows.py, a 2-core AMD EPYC VM). A
district's 100,000-row download of the 10^6-unit register took 19.6-19.8 s and 17.6 s of
CPU before, 7.1-7.3 s and 5.1 s after, its 121 MB sheet byte for byte the same.

The package is openpyxl's: ``start`` has it save a workbook with the header row and one
row of a date (so the date style exists, numbered as openpyxl numbers it), then keeps
every part but the sheet, and the sheet's XML before and after that date row. The rows
written between them are what openpyxl writes for the same values (but that text is
always text, never a formula or an error value): inline strings,
``xml:space="preserve"`` where openpyxl sets it, dates as Excel serial numbers with the
date style, numbers to 16 significant digits, empty cells left out
(tests/unit/test_xlsx_rows.py holds the sheet to openpyxl's, byte for byte).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from typing import IO, Any, Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

SHEET_PART: Final = "xl/worksheets/sheet1.xml"
_DATED_ROW = re.compile(rb'<row r="2">.*?</row>', re.DOTALL)
_STYLE = re.compile(rb' s="(\d+)"')


def _escape(text: str) -> str:
    # What ElementTree escapes in text, which et_xmlfile uses.
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _fresh(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A new entry with ``info``'s name, time and permissions (its sizes are written anew)."""
    entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    entry.compress_type = info.compress_type
    entry.external_attr = info.external_attr
    entry.create_system = info.create_system
    return entry


class SheetWriter:
    """One sheet, titled ``title``, with ``headers`` in bold over ``widths``-wide columns
    and the header row frozen; rows added one at a time, the file's bytes at the end."""

    def __init__(
        self, title: str, headers: Sequence[str], widths: Sequence[float], date_format: str
    ) -> None:
        self.letters = [get_column_letter(i) for i in range(1, len(headers) + 1)]
        self._spec = (title, tuple(headers), tuple(widths), date_format)
        self._out = io.BytesIO()
        self._zip: zipfile.ZipFile | None = None
        self._sheet: IO[bytes] | None = None
        self._after: list[tuple[zipfile.ZipInfo, bytes]] = []
        self._tail = b""
        self._date_style = ""
        self._row = 1

    def start(self) -> None:
        """The package from openpyxl and the sheet opened after its header row."""
        if self._zip is not None:
            return
        title, headers, widths, date_format = self._spec
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title)
        for letter, width in zip(self.letters, widths, strict=True):
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for text in headers:
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        dated = WriteOnlyCell(sheet, value=date(2000, 1, 1))
        dated.number_format = date_format
        sheet.append([dated])
        saved = io.BytesIO()
        workbook.save(saved)
        # Every entry as openpyxl wrote it (its ZipInfo: name, time, permissions), in its
        # order: those before the sheet now, the sheet streamed, the rest at the end.
        with zipfile.ZipFile(saved) as package:
            entries = [(info, package.read(info)) for info in package.infolist()]
        at = next(i for i, (info, _) in enumerate(entries) if info.filename == SHEET_PART)
        sheet_info, xml = entries[at]
        self._after = entries[at + 1 :]
        row = _DATED_ROW.search(xml)
        style = _STYLE.search(row.group()) if row else None
        if row is None or style is None:
            raise RuntimeError("openpyxl's sheet has no dated row to take the date style from")
        self._date_style = style.group(1).decode()
        self._zip = zipfile.ZipFile(self._out, "w", zipfile.ZIP_DEFLATED)
        for info, data in entries[:at]:
            self._zip.writestr(_fresh(info), data)
        # Not zip64: a sheet of the exports' 100,000 rows is ~121 MB, and a zip64 local
        # header beside a plain central directory is what some Excel builds refuse.
        self._sheet = self._zip.open(_fresh(sheet_info), "w")
        self._sheet.write(xml[: row.start()])
        self._tail = xml[row.end() :]

    def add(self, values: Sequence[Any]) -> None:
        """One row: None (left empty), text (always text, never a formula), a date or
        datetime, a bool or a number."""
        self.start()
        assert self._sheet is not None
        r = self._row + 1
        cells = [f'<row r="{r}">']
        for letter, value in zip(self.letters, values, strict=True):
            if value is None:
                continue
            if isinstance(value, str):
                # As openpyxl: at most 32,767 characters, none that XML 1.0 cannot hold.
                # Unlike openpyxl, text stays text: "=..." is no formula, "#N/A" or
                # "#REF!" no error value (a user's address is not a spreadsheet's).
                value = value[:32767]
                if ILLEGAL_CHARACTERS_RE.search(value):
                    raise ValueError(f"{value!r} holds characters a worksheet cannot")
                if value == "":
                    cells.append(f'<c r="{letter}{r}" t="inlineStr" />')
                    continue
                stripped = value.strip()
                space = ' xml:space="preserve"' if stripped and stripped != value else ""
                cells.append(
                    f'<c r="{letter}{r}" t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'
                )
            elif isinstance(value, date | datetime):
                serial = f"{to_excel(value):.16g}"
                cells.append(f'<c r="{letter}{r}" s="{self._date_style}" t="n"><v>{serial}</v></c>')
            elif isinstance(value, bool):
                cells.append(f'<c r="{letter}{r}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, int | float):
                if math.isfinite(value):
                    cells.append(f'<c r="{letter}{r}" t="n"><v>{value:.16g}</v></c>')
                else:  # openpyxl's empty value: Excel has no NaN or infinity
                    cells.append(f'<c r="{letter}{r}" t="n"><v /></c>')
            else:
                raise TypeError(f"no spreadsheet cell for {type(value).__name__}")
        cells.append("</row>")
        self._sheet.write("".join(cells).encode())
        self._row = r

    def finish(self) -> bytes:
        self.start()
        assert self._zip is not None and self._sheet is not None
        self._sheet.write(self._tail)
        self._sheet.close()
        for info, data in self._after:
            self._zip.writestr(_fresh(info), data)
        self._zip.close()
        return self._out.getvalue()

    def close(self) -> None:
        """Drop an unfinished file (a download given up)."""
        if self._sheet is not None and not self._sheet.closed:
            self._sheet.close()
        if self._zip is not None:
            self._zip.close()
        self._out = io.BytesIO()
