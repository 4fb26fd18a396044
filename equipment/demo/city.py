"""Generate the demo city as plain rows. Pure: same seed, size and day, same city.

Ages, categories and statuses follow a plausible city register: lifts dominate, most
units are in use, a few are late-registered, suspended, scrapped or still pending. Given
the demo areas, about 15 % of the lifts in the urban districts stand in old residential
areas (老旧小区), clustered there, 15-30 years old and often overdue: the lifts the
city's plan puts first.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Any

import numpy as np

from equipment.domain import codes
from equipment.domain.catalogue import is_cylinder, is_lift
from equipment.domain.lifecycle import registration_is_late
from equipment.domain.regions import XIANGYANG_DISTRICTS
from geo.areas import Area
from geo.assign import assign_points, first_area, units_in_polygon

# Approximate centres (WGS-84) of Xiangyang's districts and counties, and each one's
# share of the units: the three urban districts hold most of them.
DISTRICT_CENTRES: dict[str, tuple[float, float, float]] = {
    "420602": (112.134, 32.010, 0.22),  # 襄城区
    "420606": (112.135, 32.045, 0.30),  # 樊城区
    "420607": (112.212, 32.087, 0.16),  # 襄州区
    "420624": (111.839, 31.774, 0.04),  # 南漳县
    "420625": (111.653, 32.263, 0.05),  # 谷城县
    "420626": (111.262, 31.879, 0.02),  # 保康县
    "420682": (111.676, 32.385, 0.06),  # 老河口市
    "420683": (112.772, 32.129, 0.09),  # 枣阳市
    "420684": (112.258, 31.719, 0.06),  # 宜城市
}

CATEGORY_WEIGHTS: dict[str, float] = {
    "3110": 45,
    "3120": 2,
    "3310": 3,
    "3430": 1,
    "2310": 8,
    "2320": 10,
    "23T0": 1,
    "2100": 8,
    "1000": 3,
    "4100": 3,
    "4300": 1.5,
    "4860": 1,
    "4D00": 1,
    "5110": 4,
    "8210": 0.5,
    "8300": 0.5,
    "6000": 0.3,
    "9000": 0.2,
}

# (years ago low, high, weight): many new units, a long tail of old ones.
AGE_BANDS = ((0, 5, 30), (5, 10, 28), (10, 15, 20), (15, 25, 17), (25, 30, 5))

_AGE_CUMULATIVE = list(accumulate(w for *_, w in AGE_BANDS))

STATUS_WEIGHTS = {"in_use": 88, "suspended": 4, "pending": 3, "scrapped": 3, "cancelled": 2}

# Lifts placed in old residential areas: their share of the urban districts' lifts, and
# their age in years. They carry "neglected": their history misses inspections more often.
URBAN_DISTRICTS = frozenset({"420602", "420606", "420607"})
OLD_AREA_LIFT_SHARE = 0.15
OLD_AREA_LIFT_AGE_YEARS = (15, 30)

MANUFACTURERS = (
    ("B1001", "奥的斯电梯(中国)有限公司"),
    ("B1002", "三菱电机上海机电电梯有限公司"),
    ("B1003", "日立电梯(中国)有限公司"),
    ("B1004", "通力电梯有限公司"),
    ("B1005", "迅达(中国)电梯有限公司"),
    ("B1006", "蒂升电梯(中国)有限公司"),
    ("B1007", "康力电梯股份有限公司"),
    ("B1008", "广州广日电梯工业有限公司"),
    ("C2001", "湖北特种设备制造有限公司"),
    ("C2002", "武汉锅炉股份有限公司"),
    ("C2003", "浙江金盾压力容器有限公司"),
    ("C2004", "宁波明欣化工机械有限责任公司"),
)
# Who makes what: a cylinder comes from a cylinder maker, a boiler from a boiler works, a
# lift from a lift maker (the generator's draw picks the maker's place in the list, so
# the rest of the city does not change with these lists).
LIFT_MAKERS = MANUFACTURERS[:8]
CYLINDER_MAKERS = (
    ("D3001", "北京天海工业有限公司"),
    ("D3002", "沈阳斯林达安科新技术有限公司"),
    ("D3003", "山东永安合力钢瓶股份有限公司"),
    ("D3004", "浙江金盾压力容器有限公司"),
    ("D3005", "湖北三江航天江北机械工程有限公司"),
)
BOILER_AND_VESSEL_MAKERS = MANUFACTURERS[8:]
CRANE_AND_OTHER_MAKERS = (
    ("E4001", "卫华集团有限公司"),
    ("E4002", "河南省矿山起重机有限公司"),
    ("E4003", "杭叉集团股份有限公司"),
    ("E4004", "湖北特种设备制造有限公司"),
)


def maker(category: str, drawn: tuple[str, str]) -> tuple[str, str]:
    """The maker of a unit of ``category``, at the place ``drawn`` holds in MANUFACTURERS."""
    makers: tuple[tuple[str, str], ...]
    if is_lift(category):
        makers = LIFT_MAKERS
    elif is_cylinder(category):
        makers = CYLINDER_MAKERS
    elif category[0] in "128":
        makers = BOILER_AND_VESSEL_MAKERS
    else:
        makers = CRANE_AND_OTHER_MAKERS
    return makers[MANUFACTURERS.index(drawn) % len(makers)]


STREETS = (
    "人民路",
    "长虹路",
    "春园路",
    "中原路",
    "襄阳大道",
    "檀溪路",
    "前进路",
    "解放路",
    "丹江路",
    "航空路",
    "七里河路",
    "汉江北路",
    "胜利街",
    "环城南路",
    "大庆路",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True)
class DemoOrganisation:
    kind: str
    credit_code: str
    name: str
    contact_name: str
    contact_phone: str
    # A company's published service line (the hotline on a lift's page); not a person's.
    public_phone: str
    address: str
    licence_no: str | None
    licence_valid_until: date | None
    # Filling stations: the code they publish fills under, and where they are.
    station_code: str | None
    longitude: float | None
    latitude: float | None


class _Picker:
    """Weighted choice with the cumulative weights computed once (1M draws in a load)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.keys = list(weights)
        self.cumulative = list(accumulate(weights.values()))

    def __call__(self, rng: random.Random) -> str:
        return rng.choices(self.keys, cum_weights=self.cumulative)[0]


def _credit_code(rng: random.Random, serial: int, district: str) -> str:
    # 9 = registered with the market regulator, 1 = enterprise; the serial keeps codes unique.
    body = f"91{district}{serial:08d}" + rng.choice(CREDIT_CHARS)
    return body + codes.credit_code_check_char(body)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


def organisation_counts(units: int) -> dict[str, int]:
    return {
        "user_unit": max(50, units // 25),
        "maintenance_company": min(400, max(10, units // 250)),
        "inspection_body": 3,
        "filling_station": min(300, max(5, units // 1000)),
    }


def organisations(seed: int, units: int, today: date) -> list[DemoOrganisation]:
    rng = random.Random(f"orgs-{seed}")
    districts = list(DISTRICT_CENTRES)
    out: list[DemoOrganisation] = []
    names = {
        "user_unit": ("物业服务有限公司", "小区业主委员会", "医院", "商业管理有限公司", "中学"),
        "maintenance_company": ("电梯工程有限公司", "机电设备安装有限公司"),
        "inspection_body": ("特种设备检验检测院", "市场监督管理局特种设备检验所"),
        "filling_station": ("液化气充装站", "工业气体有限公司"),
    }
    # A separate stream for station places, so adding them left every other value as it was.
    places = random.Random(f"stations-{seed}")
    hotlines = random.Random(f"hotlines-{seed}")  # likewise for the companies' service lines
    for kind, count in organisation_counts(units).items():
        for i in range(count):
            district = rng.choice(districts)
            licensed = kind != "user_unit"
            station = kind == "filling_station"
            lon, lat, _ = DISTRICT_CENTRES[district]
            prefix = "襄阳" + rng.choice(("汉江", "隆中", "古隆", "鹿门", "岘山", "檀溪", "米公"))
            out.append(
                DemoOrganisation(
                    kind=kind,
                    credit_code=_credit_code(rng, len(out) + 1, district),
                    name=f"{prefix}{rng.choice(names[kind])}{i + 1:04d}",
                    contact_name=rng.choice(SURNAMES) + rng.choice("伟芳娜敏静丽强磊军洋"),
                    contact_phone=_phone(rng),
                    public_phone=(
                        f"0710-{hotlines.randrange(10**6, 10**7)}"
                        if kind in ("maintenance_company", "filling_station")
                        else ""
                    ),
                    address=f"湖北省襄阳市{rng.choice(STREETS)}{rng.randrange(1, 400)}号",
                    licence_no=f"TS{rng.randrange(10**9):09d}" if licensed else None,
                    licence_valid_until=(
                        today + timedelta(days=rng.randrange(-60, 4 * 365)) if licensed else None
                    ),
                    station_code=f"XYS{i + 1:04d}" if station else None,
                    longitude=round(lon + places.uniform(-0.03, 0.03), 6) if station else None,
                    latitude=round(lat + places.uniform(-0.03, 0.03), 6) if station else None,
                )
            )
    return out


def _parameters(rng: random.Random, category: str) -> dict[str, Any]:
    family = category[0]
    if category in ("3310",):
        return {"drive": "escalator", "rated_speed_mps": 0.5}
    if family == "3":
        return {
            "drive": "traction",
            "floors": rng.randrange(6, 34),
            "rated_load_kg": rng.choice((630, 800, 1000, 1050, 1350, 1600)),
            "rated_speed_mps": rng.choice((1.0, 1.5, 1.75, 2.0, 2.5)),
            "iot_monitored": rng.random() < 0.4,
        }
    if category == "2320":
        return {
            "medium": "LPG",
            "water_capacity_l": 35.5,
            "nominal_working_pressure_mpa": 2.1,
            "material": "steel",
        }
    if category == "2310":
        medium = rng.choice(("O2", "N2", "Ar", "CO2", "H2"))
        return {
            "medium": medium,
            "water_capacity_l": 40.0,
            "nominal_working_pressure_mpa": 15.0,
            "material": "steel",
        }
    if category == "23T0":
        return {
            "medium": rng.choice(("C2H2", "LNG")),
            "water_capacity_l": 40.0,
            "nominal_working_pressure_mpa": 1.6,
            "vehicle": rng.random() < 0.5,
        }
    if category == "2100":
        return {
            "safety_grade": rng.choice((1, 2, 2, 3)),
            "design_pressure_mpa": 1.6,
            "volume_m3": rng.choice((1.0, 2.5, 5.0, 10.0)),
        }
    if category == "1000":
        return {
            "rated_pressure_mpa": 1.25,
            "capacity_t_per_h": rng.choice((2.0, 4.0, 10.0)),
            "power_station": False,
        }
    if family == "4":
        return {"rated_lifting_capacity_t": rng.choice((5.0, 10.0, 16.0, 32.0))}
    if category == "8300":
        return {"safety_grade": rng.choice((1, 2, 3)), "length_km": 1.2}
    if category == "8210":
        return {"pipe_class": rng.choice(("GB1-III", "GB1-IV")), "material": "PE", "length_km": 3.5}
    return {}


def _age_days(rng: random.Random, cylinder: bool) -> int:
    low, high, _ = rng.choices(AGE_BANDS, cum_weights=_AGE_CUMULATIVE)[0]
    if cylinder:
        low, high = min(low, 6), min(high, 9)  # most cylinders older than that are scrapped
    return rng.randrange(low * 365, high * 365 + 1)


def old_areas_by_district(areas: Sequence[Area]) -> dict[str, list[Area]]:
    """The old residential areas of each urban district (the district whose polygon holds
    the centre of the area's box), in the given order."""
    districts = [a for a in areas if a.kind == "district" and a.code in URBAN_DISTRICTS]
    old = [a for a in areas if a.kind == "old_residential"]
    if not districts or not old:
        return {}
    boxes = np.array([a.geometry.bounds for a in old])
    point, area = assign_points(
        (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2, districts
    )
    out: dict[str, list[Area]] = {}
    for item, district in zip(old, first_area(point, area, len(old)).tolist(), strict=True):
        if district >= 0:
            out.setdefault(str(districts[district].code), []).append(item)
    return out


def point_in(rng: random.Random, area: Area) -> tuple[float, float]:
    """A point inside ``area`` (rounded to 6 decimals, ≈ 0.1 m, like every demo point),
    drawn uniformly from its box until one falls inside."""
    min_x, min_y, max_x, max_y = area.geometry.bounds
    for _ in range(1000):
        x = round(rng.uniform(min_x, max_x), 6)
        y = round(rng.uniform(min_y, max_y), 6)
        if units_in_polygon(np.array([x]), np.array([y]), area.geometry).size:
            return x, y
    raise RuntimeError(f"no point found inside area {area.key}")  # pragma: no cover


def units(
    seed: int,
    count: int,
    today: date,
    org_ids: dict[str, list[int]],
    areas: Sequence[Area] | None = None,
) -> Iterator[dict]:
    """``count`` unit rows ready for the equipment table, in a deterministic order.

    With ``areas`` (``geo.demo_areas.demo_areas``), some urban lifts are placed in the old
    residential areas; their draws come from a separate generator, so every other unit is
    the same with or without areas.
    """
    rng = random.Random(f"units-{seed}")
    placement = random.Random(f"old-areas-{seed}")
    old_areas = old_areas_by_district(areas or ())
    reg_seq: Counter[str] = Counter()
    eq_seq: Counter[str] = Counter()
    pick_category = _Picker(CATEGORY_WEIGHTS)
    pick_district = _Picker({code: w for code, (*_, w) in DISTRICT_CENTRES.items()})
    pick_status = _Picker(STATUS_WEIGHTS)
    cylinders = {code for code in CATEGORY_WEIGHTS if is_cylinder(code)}
    assert {d.code for d in XIANGYANG_DISTRICTS} >= set(DISTRICT_CENTRES)
    for index in range(count):
        category = pick_category(rng)
        district = pick_district(rng)
        lon0, lat0, _w = DISTRICT_CENTRES[district]
        cylinder = category in cylinders
        age_days = _age_days(rng, cylinder)
        old_area = None
        if district in old_areas and is_lift(category) and placement.random() < OLD_AREA_LIFT_SHARE:
            old_area = placement.choice(old_areas[district])
            low, high = OLD_AREA_LIFT_AGE_YEARS
            age_days = placement.randrange(low * 366, high * 365)  # whole years, leap days too
        commissioned = today - timedelta(days=age_days)
        made = commissioned - timedelta(days=rng.randrange(30, 400))
        manufacturer_code, manufacturer = maker(category, rng.choice(MANUFACTURERS))
        eq_key = f"{category}{manufacturer_code}{made.year:04d}"
        eq_seq[eq_key] += 1
        equipment_code = f"{eq_key}{eq_seq[eq_key]:05d}"
        status = pick_status(rng)
        draw = rng
        if status == "pending" and old_area is not None:
            # A 15-30-year-old lift of an old area is long registered; its registration
            # draws come from the placement's generator, so other units stay the same.
            status, draw = "in_use", placement
        if status == "pending":
            # Awaiting registration: put into service in the last weeks (TSG 08-2017: use
            # registration within 30 days), so none shows an inspection overdue for years.
            # Its own draws, per unit: every other unit stays the same.
            fresh = random.Random(f"pending-{seed}-{index}")
            commissioned = today - timedelta(days=fresh.randrange(0, 28))
            made = commissioned - timedelta(days=fresh.randrange(30, 200))
            eq_key = f"{category}{manufacturer_code}{made.year:04d}"
            eq_seq[eq_key] += 1
            equipment_code = f"{eq_key}{eq_seq[eq_key]:05d}"
        registered_on = None
        registration_code = None
        if status != "pending":
            registered_on = min(today, commissioned + timedelta(days=draw.randrange(-20, 45)))
            reg_key = f"{category}{district}{registered_on:%Y%m}"
            reg_seq[reg_key] += 1
            registration_code = f"{reg_key}{reg_seq[reg_key]:04d}"
        status_since = registered_on or commissioned
        if status in ("suspended", "scrapped", "cancelled"):
            status_since = min(today, status_since + timedelta(days=rng.randrange(30, 3000)))
        parameters = _parameters(rng, category)
        station = None
        user_unit = rng.choice(org_ids["user_unit"])
        if cylinder:
            station = rng.choice(org_ids["filling_station"])
            if parameters.get("vehicle"):
                station = None
            else:
                user_unit = station
        has_point = rng.random() > 0.03  # a few units lack coordinates: a data-quality gap
        row = {
            "code": registration_code or equipment_code,
            "registration_code": registration_code,
            "equipment_code": equipment_code,
            "category": category,
            "certificate_no": (
                f"{_certificate_kind(category, cylinder)}{draw.randrange(10, 99)}"
                f"鄂F{draw.randrange(10**5):05d}({registered_on:%y})"
                if registered_on
                else None
            ),
            "manufacturer": manufacturer,
            "model": f"{manufacturer_code[0]}-{rng.randrange(100, 999)}",
            "serial_no": f"{made.year}{rng.randrange(10**6):06d}",
            "manufacture_date": made,
            "commissioning_date": commissioned,
            "registered_on": registered_on,
            "address": f"湖北省襄阳市{rng.choice(STREETS)}{rng.randrange(1, 600)}号",
            "district_code": district,
            "longitude": round(lon0 + rng.gauss(0, 0.025), 6) if has_point else None,
            "latitude": round(lat0 + rng.gauss(0, 0.02), 6) if has_point else None,
            "user_unit": user_unit,
            "maintenance_company": None if cylinder else rng.choice(org_ids["maintenance_company"]),
            "owning_station": station,
            "status": status,
            "status_since": status_since,
            "late_registration": bool(
                registered_on and registration_is_late(commissioned, registered_on)
            ),
            "parameters": parameters,
        }
        if old_area is not None:
            row["longitude"], row["latitude"] = point_in(placement, old_area)
            row["neglected"] = True
        yield row


def _certificate_kind(category: str, cylinder: bool) -> str:
    if cylinder:
        return "瓶"
    return {"1": "锅", "2": "容", "3": "梯", "4": "起", "5": "车", "6": "游", "8": "管", "9": "索"}[
        category[0]
    ]
