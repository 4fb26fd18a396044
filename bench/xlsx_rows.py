"""The due list's Excel download, formatting only: sereg's writer (``exports.XlsxExport``
over ``xlsx_rows.SheetWriter``) against openpyxl's write-only cells, the writer it
replaced, on the same rows in one process.

    python -m bench.xlsx_rows [--rows 20000] [--rounds 3]

The openpyxl side is ``exports.to_xlsx_book``, which guards each text cell again (the
values are already guarded): about 20 µs a row more than the former ``XlsxExport`` (155
against 178 µs a row, measured both ways on a 2-core AMD EPYC VM).

Rows shaped like a district's due list (Chinese names and addresses, two dates, a rule
explanation), from the service's row dicts to the file's bytes: both writers take each
cell's value from ``exports._cell`` (labels, the formula guard).
Rounds alternate the two writers; each prints the CPU microseconds a row and the file's
size, and the last line the ratio of the medians. Both files have the same sheet
(tests/unit/test_xlsx_rows.py holds that).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from bench.harness import load_average, machine
from equipment.api import exports

DATE_FORMAT = "yyyy-mm-dd"


def openpyxl_book(title: str, columns: Sequence[exports.Column], lang: exports.Lang,
                  rows: Sequence[Sequence[Any]]) -> bytes:  # fmt: skip
    """The workbook as openpyxl's write-only cells write it: ``exports.to_xlsx_book``
    (the ledgers' writer, still cell by cell), which lays a sheet out as ``XlsxExport``
    did before (header bold, widths, header frozen, dates styled). Booleans it writes
    as numbers."""
    keyed = [{c.key: v for c, v in zip(columns, values, strict=True)} for values in rows]
    return exports.to_xlsx_book([exports.Sheet(title, title, tuple(columns), keyed)], lang)


def due_rows(n: int) -> list[dict[str, Any]]:
    start = date(2026, 12, 7)
    return [
        {
            "code": f"3110420606{i:010d}",
            "category": "3110",
            "category_name": "曳引驱动乘客电梯",
            "kind": "periodic_inspection",
            "due_on": start - timedelta(days=i % 400),
            "reminder_on": start - timedelta(days=i % 400 + 30),
            "state": "overdue",
            "district_code": "420606",
            "district_name": "樊城区",
            "address": f"襄阳市樊城区人民路{i % 300}号汉江小区{i % 17}栋",
            "user_unit_name": f"汉江小区物业管理有限公司第{i % 50}分公司",
            "maintenance_company_name": "隆中电梯工程有限公司" if i % 3 else None,
            "source": "TSG T7001-2009 第七条",
            "explanation": f"Periodic inspection every year after the last one on {start}",
        }
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = due_rows(args.rows)

    def ours() -> int:
        export = exports.XlsxExport("zh")
        for row in rows:
            export.add(row)
        return len(export.finish())

    def theirs() -> int:
        # The same cell values (exports._cell: labels, formula guard) as XlsxExport's.
        cells = [[exports._cell(r, c, "zh", xml=True) for c in exports.COLUMNS] for r in rows]
        return len(openpyxl_book("应检设备", exports.COLUMNS, "zh", cells))

    print(f"# the due list as XLSX, {args.rows:,} rows, {args.rounds} alternating rounds")
    print(f"machine: {machine()}; {load_average()} at start")
    print("| round | writer | CPU µs a row | bytes |")
    print("| ---: | --- | ---: | ---: |")
    spent: dict[str, list[float]] = {"openpyxl cells": [], "sereg (XlsxExport)": []}
    for round_ in range(args.rounds):
        pairs = [("openpyxl cells", theirs), ("sereg (XlsxExport)", ours)]
        for name, write in pairs if round_ % 2 == 0 else pairs[::-1]:
            started = time.process_time()
            size = write()
            per_row = (time.process_time() - started) * 1e6 / args.rows
            spent[name].append(per_row)
            print(f"| {round_ + 1} | {name} | {per_row:.1f} | {size:,} |", flush=True)
    before, after = (statistics.median(v) for v in spent.values())
    print(f"\nmedian: openpyxl {before:.1f} µs a row, sereg {after:.1f} (×{before / after:.1f})")
    print(f"{load_average()} at the end")


if __name__ == "__main__":
    main()
