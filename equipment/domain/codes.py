"""Identifiers of special equipment and of the organisations around it.

- registration code (注册代码, 20 characters, on the lift's sign);
- equipment code (设备代码, 18 characters, given by the manufacturer);
- registration certificate number (使用登记证编号), validated loosely;
- unified social credit code (统一社会信用代码, GB 32100-2015) with its check character.

Every parser strips surrounding whitespace, turns full-width ASCII (as typed with a
Chinese input method) into ASCII and upper-cases ASCII letters; anything else is
rejected with the position of the offending character (1-based, as people count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from equipment.domain import catalogue, regions
from equipment.domain.errors import InvalidValue

__all__ = [
    "CERTIFICATE_KINDS",
    "CREDIT_CODE_CHARSET",
    "CREDIT_CODE_WEIGHTS",
    "PROVINCE_ABBREVIATIONS",
    "EquipmentCode",
    "RegistrationCode",
    "credit_code_check_char",
    "is_full_certificate_number",
    "parse_equipment_code",
    "parse_registration_code",
    "validate_certificate_number",
    "validate_credit_code",
]

_DIGITS = frozenset("0123456789")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")

EARLIEST_REGISTRATION_YEAR = 1990
EARLIEST_MANUFACTURE_YEAR = 1950


# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space to ASCII, and ASCII
# letters upper-cased (other letters stay as they are): one str.translate per code, which
# an import calls three times a row (a character loop in Python was a fifth of its cost).
_CLEAN_TABLE = {
    **{point: point - 0xFEE0 for point in range(0xFF01, 0xFF5F)},
    0x3000: ord(" "),
}
_CLEAN_TABLE.update(
    {ord(ch): ord(ch.upper()) for ch in "abcdefghijklmnopqrstuvwxyz"}
    | {point: ord(chr(point - 0xFEE0).upper()) for point in range(0xFF41, 0xFF5B)}
)


def _clean(text: object, what: str, field: str) -> str:
    """Map full-width ASCII, strip, upper-case ASCII letters."""
    if not isinstance(text, str):
        raise InvalidValue(f"{what} must be text, not {type(text).__name__}", field=field)
    return text.translate(_CLEAN_TABLE).strip()


def _describe(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}'"
    return f"U+{ord(ch):04X}"


def _require_chars(text: str, allowed: frozenset[str], what: str, field: str, hint: str) -> None:
    if allowed.issuperset(text):  # the usual case, in C; the loop names the first culprit
        return
    for position, ch in enumerate(text, start=1):
        if ch not in allowed:
            raise InvalidValue(
                f"{what} '{text}': character {position} {_describe(ch)} is not allowed ({hint})",
                field=field,
            )


def _require_length(text: str, length: int, what: str, field: str, layout: str) -> None:
    if len(text) != length:
        raise InvalidValue(
            f"{what} '{text}' must be {length} characters ({layout}), got {len(text)}",
            field=field,
        )


def _segment_error(first: int, last: int, label: str, value: str, problem: str) -> str:
    return f"characters {first}-{last} ({label}) '{value}': {problem}"


# Cached: an import checks two codes a row, and a register holds a few dozen categories
# and year-months (a code that fails raises again each time: lru_cache keeps no exception).
@lru_cache(maxsize=1024)
def _check_category(value: str, field: str) -> str:
    row = catalogue.category(value) if catalogue.is_known_category(value) else None
    if row is None:
        raise InvalidValue(
            _segment_error(
                1,
                4,
                "category code",
                value,
                "not a code of the Catalogue of Special Equipment (e.g. 3110, 23T0, 4D00)",
            ),
            field=field,
        )
    if not row.registrable:
        raise InvalidValue(
            _segment_error(
                1,
                4,
                "category code",
                value,
                f"{row.name_zh} ({row.name_en}) are not registered as units",
            ),
            field=field,
        )
    return row.code


# ---------------------------------------------------------------------------------------
# Registration code (注册代码)


@dataclass(frozen=True, slots=True)
class RegistrationCode:
    """A parsed 20-character registration code."""

    code: str
    category_code: str
    region_code: str
    registered_year: int
    registered_month: int
    sequence: str

    @property
    def registered_in(self) -> date:
        """The first day of the month of registration."""
        return date(self.registered_year, self.registered_month, 1)

    def __str__(self) -> str:
        return self.code


_REGISTRATION_LAYOUT = "category 4 + region 6 + year and month 6 + sequence 4"


def parse_registration_code(
    code: object, today: date, *, field: str = "registration_code"
) -> RegistrationCode:
    """Parse and check a registration code such as ``31103506002016053337``.

    Layout: category code (4, a catalogue code) + region (6, GB/T 2260) + YYYYMM of
    registration (from 1990 to the current month) + monthly sequence (4 digits, or
    letters and digits once a month passes 9999).
    """
    what = "registration code"
    text = _clean(code, what, field)
    _require_chars(text, _ALNUM, what, field, "only digits and letters A-Z")
    _require_length(text, 20, what, field, _REGISTRATION_LAYOUT)

    category_code = _check_category(text[0:4], field)

    region_part = text[4:10]
    try:
        regions.validate_region(region_part, field=field)
    except InvalidValue as error:
        raise InvalidValue(
            _segment_error(5, 10, "region code", region_part, error.reason), field=field
        ) from None

    year, month = _check_year_month(text[10:16], today, field)
    return RegistrationCode(
        code=text,
        category_code=category_code,
        region_code=region_part,
        registered_year=year,
        registered_month=month,
        sequence=text[16:20],
    )


@lru_cache(maxsize=4096)
def _check_year_month(value: str, today: date, field: str) -> tuple[int, int]:
    label = "registration month"
    for offset, ch in enumerate(value):
        if ch not in _DIGITS:
            raise InvalidValue(
                _segment_error(
                    11, 16, label, value, f"character {11 + offset} '{ch}' is not a digit (YYYYMM)"
                ),
                field=field,
            )
    year, month = int(value[:4]), int(value[4:])
    if not 1 <= month <= 12:
        raise InvalidValue(
            _segment_error(11, 16, label, value, f"month {value[4:]} is not 01-12"), field=field
        )
    if year < EARLIEST_REGISTRATION_YEAR:
        raise InvalidValue(
            _segment_error(
                11, 16, label, value, f"year {year} is before {EARLIEST_REGISTRATION_YEAR}"
            ),
            field=field,
        )
    if (year, month) > (today.year, today.month):
        raise InvalidValue(
            _segment_error(
                11,
                16,
                label,
                value,
                f"{year}-{month:02d} is after the current month {today.year}-{today.month:02d}",
            ),
            field=field,
        )
    return year, month


# ---------------------------------------------------------------------------------------
# Equipment code (设备代码)


@dataclass(frozen=True, slots=True)
class EquipmentCode:
    """A parsed 18-character equipment code."""

    code: str
    category_code: str
    manufacturer_code: str
    manufacture_year: int
    sequence: str

    def __str__(self) -> str:
        return self.code


_EQUIPMENT_LAYOUT = "category 4 + manufacturer 5 + year of manufacture 4 + sequence 5"


def parse_equipment_code(
    code: object, today: date, *, field: str = "equipment_code"
) -> EquipmentCode:
    """Parse and check an equipment code: category (4) + manufacturer code (5, letters and
    digits) + year of manufacture (4, 1950 to this year) + sequence (5 digits)."""
    what = "equipment code"
    text = _clean(code, what, field)
    _require_chars(text, _ALNUM, what, field, "only digits and letters A-Z")
    _require_length(text, 18, what, field, _EQUIPMENT_LAYOUT)

    category_code = _check_category(text[0:4], field)
    year_part = text[9:13]
    for offset, ch in enumerate(year_part):
        if ch not in _DIGITS:
            raise InvalidValue(
                _segment_error(
                    10,
                    13,
                    "year of manufacture",
                    year_part,
                    f"character {10 + offset} '{ch}' is not a digit",
                ),
                field=field,
            )
    year = int(year_part)
    if not EARLIEST_MANUFACTURE_YEAR <= year <= today.year:
        raise InvalidValue(
            _segment_error(
                10,
                13,
                "year of manufacture",
                year_part,
                f"must be {EARLIEST_MANUFACTURE_YEAR}-{today.year}",
            ),
            field=field,
        )
    sequence = text[13:18]
    for offset, ch in enumerate(sequence):
        if ch not in _DIGITS:
            raise InvalidValue(
                _segment_error(
                    14, 18, "sequence", sequence, f"character {14 + offset} '{ch}' is not a digit"
                ),
                field=field,
            )
    return EquipmentCode(
        code=text,
        category_code=category_code,
        manufacturer_code=text[4:9],
        manufacture_year=year,
        sequence=sequence,
    )


# ---------------------------------------------------------------------------------------
# Registration certificate number (使用登记证编号)

CERTIFICATE_KINDS: dict[str, str] = {
    "锅": "boiler",
    "容": "pressure_vessel",
    "瓶": "gas_cylinder",
    "管": "piping",
    "梯": "lift",
    "起": "crane",
    "索": "ropeway",
    "游": "amusement_ride",
    "车": "vehicle",
    "氧": "oxygen_chamber",
}
"""First character of a certificate number -> the family it is for."""

PROVINCE_ABBREVIATIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼港澳台"

_FULL_CERTIFICATE = re.compile(
    rf"^[{''.join(CERTIFICATE_KINDS)}]\d{{2}}[{PROVINCE_ABBREVIATIONS}][A-Z][0-9A-Z]+\(\d{{2}}\)$"
)


def validate_certificate_number(text: object, *, field: str = "certificate_number") -> str:
    """Check a registration certificate number loosely and return it normalised.

    The full form is e.g. ``梯11闽E3622(16)``: kind (梯 lift, 瓶 cylinder ...) + 2 digits +
    province abbreviation + city letter + serial + (2-digit year). Numbers issued over the
    years vary, so only the kind character first, a length of 6-32 and printable
    characters are required. Full-width parentheses and letters become ASCII.
    """
    what = "certificate number"
    value = _clean(text, what, field)
    value = value.replace("（", "(").replace("）", ")")
    if not value:
        raise InvalidValue("certificate number is empty", field=field)
    if value[0] not in CERTIFICATE_KINDS:
        raise InvalidValue(
            f"certificate number '{value}': character 1 {_describe(value[0])} must be the "
            f"kind of equipment, one of {' '.join(CERTIFICATE_KINDS)} (e.g. 梯11闽E3622(16))",
            field=field,
        )
    for position, ch in enumerate(value, start=1):
        if not ch.isprintable():
            raise InvalidValue(
                f"certificate number '{value}': character {position} {_describe(ch)} "
                "is a control character",
                field=field,
            )
    if not 6 <= len(value) <= 32:
        raise InvalidValue(
            f"certificate number '{value}' must be 6-32 characters, got {len(value)}",
            field=field,
        )
    return value


def is_full_certificate_number(text: str) -> bool:
    """True if a (normalised) certificate number has the full modern layout."""
    return _FULL_CERTIFICATE.match(text) is not None


# ---------------------------------------------------------------------------------------
# Unified social credit code (统一社会信用代码, GB 32100-2015)

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100 in value order (no I, O, S, V, Z)."""

CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_CREDIT_VALUES = {ch: value for value, ch in enumerate(CREDIT_CODE_CHARSET)}
_CREDIT_CHARS = frozenset(CREDIT_CODE_CHARSET)
_CREDIT_HINT = "GB 32100 uses 0-9 and A-Z without I, O, S, V, Z"


def _credit_check(first17: str) -> str:
    total = sum(_CREDIT_VALUES[ch] * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_check_char(first17: object, *, field: str = "credit_code") -> str:
    """The 18th (check) character for the first 17 characters of a credit code."""
    what = "credit code"
    text = _clean(first17, what, field)
    _require_chars(text, _CREDIT_CHARS, what, field, _CREDIT_HINT)
    if len(text) != 17:
        raise InvalidValue(
            f"the check character needs the first 17 characters of a credit code, got {len(text)}",
            field=field,
        )
    return _credit_check(text)


def validate_credit_code(code: object, *, field: str = "credit_code") -> str:
    """Check an 18-character unified social credit code and return it normalised."""
    what = "credit code"
    text = _clean(code, what, field)
    _require_chars(text, _CREDIT_CHARS, what, field, _CREDIT_HINT)
    _require_length(text, 18, what, field, "GB 32100-2015 unified social credit code")
    expected = _credit_check(text[:17])
    if text[17] != expected:
        raise InvalidValue(
            f"credit code '{text}': character 18 (check character) is '{text[17]}' but the "
            f"first 17 characters give '{expected}'; a character was probably mistyped",
            field=field,
        )
    return text
