"""``sereg demo legacy-export``: a register export of the demo city as real ones come —
GBK, mixed date formats, GCJ-02 coordinates, duplicates, bad check digits — with a
manifest of every defect planted, by the row number the spreadsheet shows.

The rows are new units (their codes never collide with the demo register's: registration
sequences start with a letter, equipment sequences with 9) of the demo city's user units
(the first 50, the same whatever the city's size), so after ``sereg demo`` the import
matches them. The file follows the shipped ``registration_export`` profile.

Each planted row carries one defect; the clean rows carry none: coordinates inside the
city, a last inspection after commissioning, and the next due date sereg's rules give.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import random
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from equipment.demo import city
from equipment.domain import codes
from equipment.domain import rules as inspection_rules
from equipment.domain.catalogue import is_cylinder
from equipment.domain.errors import InvalidValue
from equipment.domain.imports.checks import register_history
from equipment.domain.imports.profile import shipped_profile
from equipment.domain.regions import XIANGYANG_DISTRICTS
from equipment.domain.rules.model import STATUTORY_KINDS
from geo.crs import from_wgs84_arrays

HEADERS = [
    "设备注册代码",
    "设备代码",
    "设备品种",
    "使用登记证编号",
    "制造单位",
    "设备型号",
    "产品编号",
    "制造日期",
    "投入使用日期",
    "登记日期",
    "设备使用地点",
    "所在区县",
    "经度",
    "纬度",
    "使用单位名称",
    "使用单位统一社会信用代码",
    "设备状态",
    "上次检验日期",
    "下次检验日期",
]
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d")
DISTRICT_NAMES = {r.code: r.name for r in XIANGYANG_DISTRICTS}
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USER_UNITS = 50
# An export this large computes its units' due dates in a process pool, in chunks.
POOL_ROWS, POOL_CHUNK = 20_000, 2_000
# Defect → share of the rows that carry it (at least one each).
DEFECTS = {
    "duplicate_in_file": 0.02,
    "invalid_registration_code": 0.01,
    "invalid_credit_code": 0.01,
    "unknown_category": 0.005,
    "invalid_date": 0.005,
    "commissioned_before_made": 0.005,
    "inspected_before_commissioned": 0.005,
    "date_in_future": 0.005,
    "missing_coordinates": 0.01,
    "out_of_city": 0.005,
    "past_due_no_inspection": 0.01,
    "due_date_disagrees": 0.01,
    "user_unit_unmatched": 0.005,
}
REJECTING = frozenset(
    {
        "duplicate_in_file",
        "invalid_registration_code",
        "unknown_category",
        "invalid_date",
        "commissioned_before_made",
        "inspected_before_commissioned",
        "date_in_future",
        "user_unit_unmatched",
    }
)


def _fmt(rng: random.Random, day: date | None) -> str:
    return "" if day is None else day.strftime(rng.choice(DATE_FORMATS))


def _computed_due(values: dict[str, Any], today: date) -> date | None:
    try:
        schedule = inspection_rules.schedule(register_history(values), today)
    except InvalidValue:
        return None
    statutory = [d for d in (*schedule.due, *schedule.dormant) if d.kind in STATUTORY_KINDS]
    return min((d.due_on for d in statutory), default=None)


def _dues(units: list[dict[str, Any]], today: date) -> list[date | None]:
    return [_computed_due(unit, today) for unit in units]


def _with_dues(
    units: Iterator[dict[str, Any]], today: date, workers: int
) -> Iterator[tuple[dict[str, Any], date | None]]:
    """Each unit with the next due date sereg's rules give it, in the units' order. The
    rules are most of the generator's time and each unit's answer is its own, so for a
    large export (``workers`` 0: one per core) they run in a spawned process pool, a few
    chunks ahead of the rows being written; ``workers`` 1 computes them here."""
    if workers == 1:
        for unit in units:
            yield unit, _computed_due(unit, today)
        return
    workers = workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    pending: deque[tuple[list[dict[str, Any]], Future[list[date | None]]]] = deque()
    try:
        while True:
            while len(pending) < 2 * workers:
                chunk = list(islice(units, POOL_CHUNK))
                pending.append((chunk, pool.submit(_dues, chunk, today)))
            chunk, dues = pending.popleft()
            yield from zip(chunk, dues.result(), strict=True)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _base36(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, digit = divmod(n, 36)
        out = _BASE36[digit] + out
    return out


def _clean_units(seed: int, today: date) -> Iterator[dict[str, Any]]:
    """Non-cylinder units in use with a last inspection, new codes, WGS-84 points."""
    rng = random.Random(f"legacy-{seed}")
    names = {v: k for k, v in shipped_profile("registration_export").values["category"].items()}
    reg_seq: Counter[str] = Counter()
    eq_seq: Counter[str] = Counter()
    fake_orgs = {
        "user_unit": list(range(USER_UNITS)),
        "maintenance_company": [0],
        "filling_station": [0],
    }
    for row in city.units(seed + 1, 10**9, today, fake_orgs):
        if is_cylinder(row["category"]) or row["category"] not in names:
            continue
        commissioned = row["commissioning_date"]
        registered = max(commissioned, min(today, row["registered_on"] or commissioned))
        reg_key = f"{row['category']}{row['district_code']}{registered:%Y%m}"
        reg_seq[reg_key] += 1
        eq_key = row["equipment_code"][:13]
        eq_seq[eq_key] += 1
        lon, lat = row["longitude"], row["latitude"]
        if lon is None:
            lon, lat, _ = city.DISTRICT_CENTRES[row["district_code"]]
        age = (today - commissioned).days
        inspected = commissioned + timedelta(days=rng.randrange(0, max(1, age)))
        yield {
            **row,
            "registration_code": f"{reg_key}L{_base36(reg_seq[reg_key], 3)}",
            "equipment_code": f"{eq_key}9{eq_seq[eq_key]:04d}",
            "category_name": names[row["category"]],
            "registered_on": registered,
            "status": "in_use",
            "longitude": lon,
            "latitude": lat,
            "last_inspected_on": inspected,
        }


def legacy_rows(
    *, rows: int, seed: int, units: int, today: date
) -> tuple[list[list[str]], dict[str, Any]]:
    """The export's data rows (as text) and the manifest of what was planted."""
    del units  # the first USER_UNITS user units are the same whatever the city's size
    rng = random.Random(f"legacy-defects-{seed}")
    orgs = [o for o in city.organisations(seed, USER_UNITS * 25, today) if o.kind == "user_unit"]
    orgs = orgs[:USER_UNITS]
    planted: dict[str, list[int]] = {rule: [] for rule in DEFECTS}
    dup_count = max(1, int(rows * DEFECTS["duplicate_in_file"]))
    base_count = rows - dup_count
    indices = list(range(base_count))
    rng.shuffle(indices)
    assigned: dict[int, str] = {}
    cursor = 0
    for defect, share in DEFECTS.items():
        if defect == "duplicate_in_file":
            continue
        for _ in range(max(1, int(rows * share))):
            assigned[indices[cursor]] = defect
            cursor += 1
    out: list[list[Any]] = []
    clean_positions: list[int] = []
    accepted_codes: list[str] = []
    source = _with_dues(_clean_units(seed, today), today, 1 if rows < POOL_ROWS else 0)
    while len(out) < base_count:
        unit, stated = next(source)
        i = len(out)
        rule: str | None = assigned.get(i)
        if rule == "past_due_no_inspection":
            # Only a unit the rules hold past due without an inspection can carry it.
            bare = {**unit, "last_inspected_on": None}
            due = _computed_due(bare, today)
            if due is None or due >= today:
                continue
        cells = _row(unit, stated, orgs, rng, today, rule)
        if cells is None:
            continue
        out.append(cells)
        if rule is not None:
            planted[rule].append(i + 2)
        if rule not in REJECTING:
            accepted_codes.append(unit["registration_code"])
        if rule is None:
            clean_positions.append(i)
    _to_gcj02(out)
    # Duplicates: exact copies of clean rows, each put after a later row than its
    # original. Placed by sorting (row it follows, then copies after originals) rather
    # than by inserting into the list one at a time, which is quadratic at 10^6 rows.
    copies = sorted(rng.sample(clean_positions, min(dup_count, len(clean_positions))))
    keys: list[tuple[int, int, int]] = [(i, 0, i) for i in range(len(out))]
    keys += [(rng.randrange(original, len(out)), 1, original) for original in copies]
    keys.sort()
    new_row = [0] * len(out)  # base index → its spreadsheet row in the final file
    final: list[list[Any]] = []
    for _, is_copy, source_index in keys:
        if is_copy:
            planted["duplicate_in_file"].append(len(final) + 2)
            final.append(list(out[source_index]))
        else:
            new_row[source_index] = len(final) + 2
            final.append(out[source_index])
    for rule, rows_of_rule in planted.items():
        if rule != "duplicate_in_file":
            rows_of_rule[:] = [new_row[r - 2] for r in rows_of_rule]
    out = final
    planted = {rule: sorted(r) for rule, r in planted.items()}
    manifest = {
        "rows": len(out),
        "encoding": "gbk",
        "crs": "gcj02",
        "profile": "registration_export",
        "planted": planted,
        "counts": {rule: len(r) for rule, r in planted.items()},
        "accepted_rows": len(accepted_codes),
        "accepted_codes": sorted(accepted_codes) if len(accepted_codes) <= 20_000 else None,
        "row_numbers": "the header is row 1; the first data row is row 2",
    }
    return out, manifest


_LON, _LAT = HEADERS.index("经度"), HEADERS.index("纬度")


def _to_gcj02(rows: list[list[Any]]) -> None:
    """The rows' WGS-84 points written as GCJ-02 text, converted in one numpy call (one
    call a row was a fifth of the generator's time); a row without a point gets ""."""
    located = [i for i, cells in enumerate(rows) if cells[_LON] is not None]
    if located:
        lons, lats = from_wgs84_arrays(
            np.array([rows[i][_LON] for i in located], dtype=np.float64),
            np.array([rows[i][_LAT] for i in located], dtype=np.float64),
            "gcj02",
        )
        for k, i in enumerate(located):
            rows[i][_LON], rows[i][_LAT] = f"{lons[k]:.6f}", f"{lats[k]:.6f}"
    for cells in rows:
        if cells[_LON] is None:
            cells[_LON] = cells[_LAT] = ""


def _row(
    unit: dict[str, Any],
    stated: date | None,
    orgs: list[Any],
    rng: random.Random,
    today: date,
    rule: str | None,
) -> list[Any] | None:
    org = orgs[unit["user_unit"] % len(orgs)]
    made, commissioned = unit["manufacture_date"], unit["commissioning_date"]
    registered, inspected = unit["registered_on"], unit["last_inspected_on"]
    registration_code = unit["registration_code"]
    category_name = unit["category_name"]
    credit, name = org.credit_code, org.name
    lon, lat = unit["longitude"], unit["latitude"]
    made_text: str | None = None
    if rule == "invalid_registration_code":
        registration_code = registration_code[:14] + "13" + registration_code[16:]
    elif rule == "invalid_credit_code":
        wrong = [c for c in codes.CREDIT_CODE_CHARSET if c != credit[-1]]
        credit = credit[:-1] + rng.choice(wrong)
    elif rule == "unknown_category":
        category_name = "未知设备"
    elif rule == "invalid_date":
        made_text = f"{made.year}-13-45"
    elif rule == "commissioned_before_made":
        commissioned = made - timedelta(days=rng.randrange(30, 300))
        registered = max(registered, commissioned)
        inspected = max(inspected, commissioned) if inspected else None
    elif rule == "inspected_before_commissioned":
        inspected = commissioned - timedelta(days=rng.randrange(5, 60))
        if inspected < made:
            return None
    elif rule == "date_in_future":
        registered = today + timedelta(days=rng.randrange(10, 400))
    elif rule == "missing_coordinates":
        lon = lat = None
    elif rule == "out_of_city":
        lon, lat = 116.397 + rng.uniform(-0.1, 0.1), 39.909 + rng.uniform(-0.1, 0.1)  # Beijing
    elif rule == "past_due_no_inspection":
        inspected = None
        stated = None
    elif rule == "due_date_disagrees":
        if stated is None:
            return None
        stated = stated + timedelta(days=rng.choice((-61, -30, 30, 92)))
    elif rule == "user_unit_unmatched":
        body = f"91420600{rng.randrange(10**8):08d}X"
        credit = body + codes.credit_code_check_char(body)
        name = f"襄阳未登记物业服务有限公司{rng.randrange(10**4):04d}"
    # The WGS-84 point for now: legacy_rows converts every row's at once (numpy).
    lon_text: Any = lon if lat is not None else None
    lat_text: Any = lat if lon is not None else None
    return [
        registration_code,
        unit["equipment_code"],
        category_name,
        unit["certificate_no"] or "",
        unit["manufacturer"],
        unit["model"],
        unit["serial_no"],
        made_text if made_text is not None else _fmt(rng, made),
        _fmt(rng, commissioned),
        _fmt(rng, registered),
        unit["address"],
        DISTRICT_NAMES[unit["district_code"]] if rng.random() < 0.5 else unit["district_code"],
        lon_text,
        lat_text,
        name,
        credit,
        "在用",
        _fmt(rng, inspected),
        _fmt(rng, stated),
    ]


def write_legacy_export(
    path: Path, *, rows: int, seed: int, units: int, today: date
) -> dict[str, Any]:
    """Write the export (GBK CSV, or XLSX by the suffix) and its manifest beside it
    (``<path>.manifest.json``); the manifest, with where it was written."""
    data, manifest = legacy_rows(rows=rows, seed=seed, units=units, today=today)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("设备")
        sheet.append(HEADERS)
        for cells in data:
            sheet.append(cells)
        book.save(path)
        manifest["encoding"] = "xlsx"
    else:
        with path.open("w", encoding="gbk", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADERS)
            writer.writerows(data)
    target = path.with_name(path.name + ".manifest.json")
    target.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    manifest["manifest"] = str(target)
    return manifest
