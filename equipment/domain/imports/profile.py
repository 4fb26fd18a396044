"""The mapping profile: how one export's layout maps to the register's fields.

A profile is a JSON document a bureau keeps beside its exports::

    {"name": "...", "columns": {"设备注册代码": "registration_code", ...},
     "values": {"status": {"在用": "in_use"}, "category": {"曳引驱动乘客电梯": "3110"}},
     "date_formats": ["%Y-%m-%d", "%Y年%m月%d日"], "crs": "gcj02", "encoding": null}

``columns`` maps a header as the file writes it to a field of ``FIELDS``; ``values`` maps
a field's raw value to the register's (a value already in the register's terms passes);
``crs`` is the coordinate system of the file's coordinates (wgs84, gcj02 or bd09);
``encoding`` names a CSV's encoding when detection cannot (utf-8 or gb18030).
``sereg import profile FILE`` writes one from a file's headers with ``guess_columns``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from equipment.domain.imports.dates import DEFAULT_DATE_FORMATS
from equipment.domain.sheet_files import header_text

__all__ = [
    "FIELDS",
    "INSPECTION_FIELDS",
    "MappingProfile",
    "ProfileProblem",
    "dump_profile",
    "guess_columns",
    "load_profile",
    "shipped_profile",
]

# The register import's fields and the headers seen for each (Chinese first).
FIELDS: dict[str, tuple[str, ...]] = {
    "registration_code": ("设备注册代码", "注册代码", "registration code", "registration_code"),
    "equipment_code": ("设备代码", "产品设备代码", "equipment code", "equipment_code"),
    "category": ("设备品种代码", "设备类别代码", "设备品种", "category", "category code"),
    "certificate_no": ("使用登记证编号", "登记证编号", "certificate no", "certificate_no"),
    "manufacturer": ("制造单位", "制造单位名称", "manufacturer"),
    "model": ("设备型号", "型号", "model"),
    "serial_no": ("产品编号", "出厂编号", "serial no", "serial_no"),
    "manufacture_date": ("制造日期", "出厂日期", "manufacture date", "manufacture_date"),
    "commissioning_date": ("投入使用日期", "投用日期", "commissioning date", "commissioning_date"),
    "registered_on": ("登记日期", "使用登记日期", "registered on", "registered_on"),
    "address": ("设备使用地点", "使用地点", "address"),
    "district": ("所在区县", "区县", "区县代码", "district", "district code"),
    "longitude": ("经度", "longitude", "lon", "lng"),
    "latitude": ("纬度", "latitude", "lat"),
    "user_unit_name": ("使用单位名称", "使用单位", "user unit", "user_unit_name"),
    "user_unit_credit_code": (
        "使用单位统一社会信用代码",
        "统一社会信用代码",
        "user unit credit code",
        "user_unit_credit_code",
    ),
    "status": ("设备状态", "使用状态", "status"),
    "last_inspected_on": ("上次检验日期", "最近检验日期", "last inspected", "last_inspected_on"),
    "next_due_stated": ("下次检验日期", "下次检验日期(报告)", "next due", "next_due_stated"),
}

# The inspection-history import's fields (an institute's export of reports).
INSPECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "report_no": ("报告编号", "检验报告编号", "report no", "report_no"),
    "code": ("设备注册代码", "注册代码", "设备代码", "code", "registration code"),
    "kind": ("检验类别", "检验性质", "kind"),
    "inspected_on": ("检验日期", "inspected on", "inspected_on"),
    "conclusion": ("检验结论", "conclusion"),
    "next_due_stated": ("下次检验日期", "next due", "next_due_stated"),
    "body_credit_code": ("检验机构统一社会信用代码", "inspection body credit code"),
}

CRS_CHOICES = ("wgs84", "gcj02", "bd09")


class ProfileProblem(ValueError):
    """A profile that cannot be used, with the reason."""


class MappingProfile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str = ""
    kind: str = "register"  # or "inspections"
    columns: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    date_formats: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_DATE_FORMATS))
    crs: str = "wgs84"
    encoding: str | None = None

    def fields(self) -> dict[str, tuple[str, ...]]:
        return INSPECTION_FIELDS if self.kind == "inspections" else FIELDS

    def check(self) -> MappingProfile:
        known = self.fields()
        unknown = sorted({f for f in self.columns.values() if f and f not in known})
        if unknown:
            raise ProfileProblem(f"unknown fields in columns: {', '.join(unknown)}")
        if self.crs not in CRS_CHOICES:
            raise ProfileProblem(f"crs must be one of {', '.join(CRS_CHOICES)}, not {self.crs!r}")
        if self.encoding not in (None, "utf-8", "gb18030", "gbk"):
            raise ProfileProblem(f"encoding must be utf-8 or gb18030, not {self.encoding!r}")
        if not self.date_formats:
            raise ProfileProblem("date_formats is empty")
        return self

    def map_value(self, field: str, raw: str) -> str:
        table = self.values.get(field)
        if not table:
            return raw
        return table.get(raw, raw)

    def header_index(self, headers: Sequence[object]) -> dict[str, int]:
        """field → column index in this file; raises ProfileProblem for a missing key
        column (the import needs a code)."""
        index: dict[str, int] = {}
        for i, header in enumerate(headers):
            name = _header(header)
            field = self.columns.get(name)
            if field and field not in index:
                index[field] = i
        needed = ("report_no", "code") if self.kind == "inspections" else ()
        missing = [f for f in needed if f not in index]
        if self.kind != "inspections" and not {"registration_code", "equipment_code"} & set(index):
            missing.append("registration_code or equipment_code")
        if missing:
            raise ProfileProblem(
                f"the file's headers give no column for {', '.join(missing)}"
                " (check the profile's columns)"
            )
        return index


_header = header_text  # the shared reader's: no BOM, no surrounding white space


def guess_columns(
    headers: Sequence[object], fields: Mapping[str, tuple[str, ...]] = FIELDS
) -> dict[str, str]:
    """header → field for the headers a known alias names; the others map to ""."""
    aliases = {alias.lower(): field for field, names in fields.items() for alias in names}
    out: dict[str, str] = {}
    for header in headers:
        name = _header(header)
        if name:
            out[name] = aliases.get(name.lower(), "")
    return out


def load_profile(data: bytes | str | Mapping[str, Any]) -> MappingProfile:
    try:
        if isinstance(data, Mapping):
            profile = msgspec.convert(data, MappingProfile)
        else:
            profile = msgspec.json.decode(data, type=MappingProfile)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProfileProblem(f"not a mapping profile: {exc}") from None
    return profile.check()


def dump_profile(profile: MappingProfile) -> bytes:
    return msgspec.json.format(msgspec.json.encode(profile), indent=2)


PROFILES = Path(__file__).with_name("profiles")


def shipped_profile(name: str) -> MappingProfile:
    """A profile shipped with sereg (equipment/domain/imports/profiles/NAME.json)."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ProfileProblem(f"no shipped profile {name!r}")
    path = PROFILES / f"{name}.json"
    if not path.is_file():
        raise ProfileProblem(f"no shipped profile {name!r}")
    return load_profile(path.read_bytes())
