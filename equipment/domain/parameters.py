"""Category-specific technical parameters.

They are stored as one JSON mapping per unit, so a new category needs no schema change,
but they are validated per family here: unknown keys are refused (a typo such as
``flors`` must not slip through and silently disable a rule), types are strict (JSON
booleans only, whole numbers only where a count is meant) and values are range-checked.
The returned dict is normalised: text stripped, known media spelled canonically,
defaults filled in for flags.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from equipment.domain import catalogue
from equipment.domain.catalogue import Family
from equipment.domain.errors import InvalidValue

__all__ = ["KNOWN_MEDIA", "allowed_parameters", "normalise_medium", "validate_parameters"]

_NOTES_MAX = 500


@dataclass(frozen=True, slots=True)
class _Spec:
    kind: str  # "bool" | "int" | "number" | "text" | "choice" | "medium"
    description: str
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    default: Any = None
    required: Callable[[str], bool] = lambda _code: False
    applies: Callable[[str], bool] = lambda _code: True
    applies_to: str = ""  # human wording of `applies`, for the refusal reason


def _positive(description: str, maximum: float | None = None) -> _Spec:
    return _Spec("number", description, 0, True, maximum)


def _flag(description: str) -> _Spec:
    return _Spec("bool", description, default=False)


_NOTES = _Spec("text", "free notes", max_length=_NOTES_MAX)

_LIFT_DRIVES = ("traction", "hydraulic", "positive_drive", "escalator", "moving_walk")
# A variety that fixes the drive: category code -> drive.
_IMPLIED_DRIVE = {
    "3110": "traction",
    "3120": "traction",
    "3130": "positive_drive",
    "3200": "hydraulic",
    "3210": "hydraulic",
    "3220": "hydraulic",
    "3310": "escalator",
    "3320": "moving_walk",
}


def _lift_with_floors(code: str) -> bool:
    return code[:2] in ("31", "32", "34")


_SPECS: dict[Family, dict[str, _Spec]] = {
    Family.LIFT: {
        "drive": _Spec("choice", "drive type", choices=_LIFT_DRIVES),
        "floors": _Spec(
            "int", "number of floors served", 2, False, 200, required=_lift_with_floors
        ),
        "rated_load_kg": _positive("rated load in kg", 100_000),
        "rated_speed_mps": _positive("rated speed in m/s", 20),
        "iot_monitored": _flag("IoT remote monitoring fitted"),
        "liability_insured": _flag("safety liability insurance in force"),
        "notes": _NOTES,
    },
    Family.BOILER: {
        "rated_pressure_mpa": _positive("rated pressure in MPa", 40),
        "capacity_t_per_h": _positive("rated evaporation in t/h"),
        "capacity_mw": _positive("rated thermal power in MW"),
        "power_station": _flag("power-station boiler"),
        "notes": _NOTES,
    },
    Family.PRESSURE_VESSEL: {
        "safety_grade": _Spec("int", "safety grade (TSG 21)", 1, False, 5),
        "non_metallic": _flag("non-metallic vessel"),
        "design_pressure_mpa": _positive("design pressure in MPa"),
        "volume_m3": _positive("volume in m³"),
        "notes": _NOTES,
    },
    Family.GAS_CYLINDER: {
        "medium": _Spec("medium", "filling medium", required=lambda _code: True),
        "water_capacity_l": _Spec(
            "number", "water capacity in litres", 0, True, 3000, required=lambda _c: True
        ),
        "nominal_working_pressure_mpa": _Spec(
            "number", "nominal working pressure in MPa", 0, True, 100, required=lambda _c: True
        ),
        "design_service_life_years": _Spec("int", "design service life in years", 1, False, 50),
        "electronic_id": _Spec("text", "electronic identification (一瓶一码)", max_length=64),
        "vehicle": _flag("vehicle fuel cylinder"),
        # A vehicle cylinder is filled only in the vehicle it is registered to (TSG 23-2021).
        "vehicle_registration": _Spec("text", "registration (plate) of its vehicle", max_length=16),
        "material": _Spec("choice", "material", choices=("steel", "aluminium", "composite")),
        "high_purity": _flag("filled with ≥99.999 % pure gas"),
        "sea_water_contact": _flag("in contact with sea water"),
        "notes": _NOTES,
    },
    Family.CRANE: {
        "rated_lifting_capacity_t": _positive("rated lifting capacity in t"),
        "span_m": _positive("span in m"),
        "molten_metal": _flag("lifts molten metal"),
        "notes": _NOTES,
    },
    Family.PIPING: {
        "safety_grade": _Spec(
            "int",
            "safety grade (TSG D7005)",
            1,
            False,
            3,
            applies=lambda code: code.startswith("83"),
            applies_to="industrial piping (83xx)",
        ),
        "pipe_class": _Spec(
            "choice",
            "pipe class (TSG D7004)",
            choices=("GB1-III", "GB1-IV", "GB2"),
            applies=lambda code: code.startswith("82"),
            applies_to="public piping (82xx)",
        ),
        "material": _Spec("choice", "pipe material", choices=("steel", "PE", "cast_iron")),
        "length_km": _positive("length in km"),
        "notes": _NOTES,
    },
    Family.VEHICLE: {"notes": _NOTES},
    Family.AMUSEMENT_RIDE: {"notes": _NOTES},
    Family.ROPEWAY: {"notes": _NOTES},
}
_SPECS[Family.OXYGEN_CHAMBER] = _SPECS[Family.PRESSURE_VESSEL]
# Every unit may state its design service life (设计使用年限): reaching it and staying in
# use needs a change registration (TSG 08-2017, rule registration.change.design_life); a
# cylinder past it is scrapped instead (its own rules).
for _family_specs in _SPECS.values():
    _family_specs.setdefault(
        "design_service_life_years", _Spec("int", "design service life in years", 1, False, 100)
    )


KNOWN_MEDIA: tuple[str, ...] = (
    "LPG",
    "O2",
    "N2",
    "Ar",
    "CO2",
    "C2H2",
    "CNG",
    "LNG",
    "H2",
    "Cl2",
    "NH3",
    "He",
    "SF6",
    "air",
    "N2O",
    "CH4",
    "C3H8",
    "C2F6",
    "Ne",
    "Kr",
    "Xe",
)
"""Media spelled canonically; input is matched case-insensitively."""

_MEDIA_BY_FOLDED = {m.casefold(): m for m in KNOWN_MEDIA}
_MEDIUM_MAX = 64


def normalise_medium(value: object, *, field: str = "medium") -> str:
    """Canonical spelling of a medium or a mixture (``ar + co2`` -> ``Ar+CO2``).

    Known media are matched case-insensitively; other names are kept as written, since
    the list of gases is open.
    """
    if not isinstance(value, str):
        raise InvalidValue(
            f"medium must be text such as 'LPG' or 'Ar+CO2', not {_json_type(value)}",
            field=field,
        )
    text = value.strip()
    if not text:
        raise InvalidValue("medium is empty; give the gas, e.g. LPG, O2, Ar+CO2", field=field)
    if len(text) > _MEDIUM_MAX:
        raise InvalidValue(f"medium must be at most {_MEDIUM_MAX} characters", field=field)
    parts = [part.strip() for part in text.split("+")]
    canonical: list[str] = []
    for part in parts:
        if not part:
            raise InvalidValue(
                f"medium '{text}' has an empty component; write mixtures as 'Ar+CO2'",
                field=field,
            )
        if not all(ch.isprintable() for ch in part):
            raise InvalidValue(f"medium '{text}' contains a control character", field=field)
        name = _MEDIA_BY_FOLDED.get(part.casefold(), part)
        if name in canonical:
            raise InvalidValue(f"medium '{text}' names {name} twice", field=field)
        canonical.append(name)
    return "+".join(canonical)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _range_text(spec: _Spec) -> str:
    low = ""
    if spec.minimum is not None:
        low = f"{'>' if spec.exclusive_minimum else '≥'} {spec.minimum:g}"
    high = f"≤ {spec.maximum:g}" if spec.maximum is not None else ""
    return " and ".join(p for p in (low, high) if p)


def _check_value(key: str, spec: _Spec, value: object, field: str) -> object:
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise InvalidValue(
                f"{key} ({spec.description}) must be true or false, not {_json_type(value)}",
                field=field,
            )
        return value
    if spec.kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(
                f"{key} ({spec.description}) must be a number, not {_json_type(value)}",
                field=field,
            )
        if spec.kind == "int" and not isinstance(value, int):
            raise InvalidValue(
                f"{key} ({spec.description}) must be a whole number, not {value!r}", field=field
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValue(f"{key} ({spec.description}) must be a finite number", field=field)
        too_low = spec.minimum is not None and (
            value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum
        )
        too_high = spec.maximum is not None and value > spec.maximum
        if too_low or too_high:
            raise InvalidValue(
                f"{key} ({spec.description}) is {value!r}; it must be {_range_text(spec)}",
                field=field,
            )
        return value
    if spec.kind == "medium":
        return normalise_medium(value, field=field)
    if not isinstance(value, str):
        raise InvalidValue(
            f"{key} ({spec.description}) must be text, not {_json_type(value)}", field=field
        )
    text = value.strip()
    if spec.kind == "choice":
        if text not in spec.choices:
            raise InvalidValue(
                f"{key} ({spec.description}) is '{text}'; it must be one of "
                f"{', '.join(spec.choices)}",
                field=field,
            )
        return text
    # free text
    if not text:
        raise InvalidValue(
            f"{key} ({spec.description}) is empty; leave it out instead", field=field
        )
    if spec.max_length is not None and len(text) > spec.max_length:
        raise InvalidValue(
            f"{key} ({spec.description}) has {len(text)} characters; at most {spec.max_length}",
            field=field,
        )
    if any(not ch.isprintable() and ch not in "\n\t" for ch in text):
        raise InvalidValue(f"{key} ({spec.description}) contains a control character", field=field)
    return text


def allowed_parameters(category_code: str) -> tuple[str, ...]:
    """The parameter keys a unit of this category may carry."""
    row = catalogue.category(category_code)
    specs = _SPECS[catalogue.family_of(row.code)]
    return tuple(k for k, s in specs.items() if s.applies(row.code))


def validate_parameters(category_code: str, params: Mapping[str, object]) -> dict[str, object]:
    """Check the parameters of a unit of ``category_code``; return them normalised.

    Raises InvalidValue with ``field="parameters.<key>"`` naming the first fault: an
    unknown key, a wrong type, a value out of range or a missing required key.
    """
    row = catalogue.category(category_code)
    family = catalogue.family_of(row.code)
    code = row.code
    specs = _SPECS[family]
    if not isinstance(params, Mapping):
        raise InvalidValue(
            f"parameters must be an object of key/value pairs, not {_json_type(params)}",
            field="parameters",
        )
    allowed = [k for k, s in specs.items() if s.applies(code)]
    for key in sorted(params, key=str):
        if not isinstance(key, str):
            raise InvalidValue(f"parameter names must be text, not {key!r}", field="parameters")
        spec = specs.get(key)
        if spec is not None and not spec.applies(code):
            raise InvalidValue(
                f"{key} ({spec.description}) applies to {spec.applies_to} only, "
                f"not to category {code} ({row.name_en})",
                field=f"parameters.{key}",
            )
        if spec is None:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InvalidValue(
                f"unknown parameter '{key}' for {family.value.replace('_', ' ')} "
                f"(category {code}); {hint}allowed: {', '.join(allowed)}",
                field=f"parameters.{key}",
            )

    result: dict[str, object] = {}
    for key in allowed:
        spec = specs[key]
        field = f"parameters.{key}"
        if key in params and params[key] is not None:
            result[key] = _check_value(key, spec, params[key], field)
        elif spec.required(code):
            raise InvalidValue(
                f"{key} ({spec.description}) is required for category {code} ({row.name_en})",
                field=field,
            )
        elif spec.default is not None:
            result[key] = spec.default

    if family is Family.LIFT:
        _check_lift(code, result)
    elif family is Family.BOILER and "capacity_t_per_h" in result and "capacity_mw" in result:
        raise InvalidValue(
            "give the boiler capacity either in t/h (steam) or in MW (hot water), not both",
            field="parameters.capacity_mw",
        )
    return result


def _check_lift(code: str, result: dict[str, object]) -> None:
    implied = _IMPLIED_DRIVE.get(code)
    drive = result.get("drive")
    if implied is None:
        moving = ("escalator", "moving_walk")
        if drive is not None and (code[:2] == "33") != (drive in moving):
            wanted = "escalator or moving_walk" if code[:2] == "33" else "a lift drive"
            raise InvalidValue(
                f"drive '{drive}' does not fit category {code}; it must be {wanted}",
                field="parameters.drive",
            )
        return
    if drive is None:
        result["drive"] = implied
    elif drive != implied:
        raise InvalidValue(
            f"drive '{drive}' contradicts category {code}, whose drive is '{implied}'",
            field="parameters.drive",
        )
