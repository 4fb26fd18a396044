"""Dates as exports write them: ISO, slashes, dots, 年月日, compact digits, Excel serials.

The formats a file uses are named in its mapping profile, tried in order; a value none of
them reads is an error with the value, never a guess (``03/04/2019`` is April or March
only by a profile's word).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache

__all__ = ["DEFAULT_DATE_FORMATS", "DateProblem", "parse_date"]

DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
# Excel's day 0 (its 1900 leap-year bug makes serials from March 1900 on count from here).
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_SERIALS = range(3_000, 80_000)  # 1908 to 2119: beyond that a number is no date


class DateProblem(ValueError):
    """A value that is no date in the profile's formats."""


_FULL_WIDTH = {point: point - 0xFEE0 for point in range(0xFF01, 0xFF5F)}


def _ascii(text: str) -> str:
    return text.translate(_FULL_WIDTH).strip()


_FIELDS = {"%Y": r"(?P<y>\d{4})", "%m": r"(?P<m>\d{1,2})", "%d": r"(?P<d>\d{1,2})"}


@lru_cache(maxsize=64)
def _pattern(fmt: str) -> re.Pattern[str] | None:
    """A format made of %Y, %m, %d and literal text as a regular expression (strptime
    costs some 40 µs a call, most of a row's parsing); None for any other directive,
    which strptime then reads."""
    parts = re.split(r"(%.)", fmt)
    out = []
    for part in parts:
        if part.startswith("%") and len(part) == 2:
            if part not in _FIELDS:
                return None
            out.append(_FIELDS[part])
        else:
            out.append(re.escape(part))
    if "%Y%m%d" in fmt:  # compact digits: fixed widths, or 2019111 would be ambiguous
        return re.compile(
            "".join(out)
            .replace(_FIELDS["%m"], r"(?P<m>\d{2})")
            .replace(_FIELDS["%d"], r"(?P<d>\d{2})")
        )
    return re.compile("".join(out))


def _read(text: str, fmt: str) -> date | None:
    pattern = _pattern(fmt)
    if pattern is None:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            return None
    found = pattern.fullmatch(text)
    if found is None:
        return None
    try:
        return date(int(found["y"]), int(found["m"]), int(found["d"]))
    except ValueError:
        return None


def parse_date(value: object, formats: tuple[str, ...] = DEFAULT_DATE_FORMATS) -> date | None:
    """The date ``value`` names; None for an empty cell. Raises DateProblem."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if int(value) in _EXCEL_SERIALS:
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise DateProblem(f"{value!r} is not a date")
    if not isinstance(value, str):
        raise DateProblem(f"{value!r} is not a date")
    return _parse_text(value, formats)


# A register's dates repeat (some ten thousand days over the years of a city's units, in a
# few formats), so the text → date answers are kept: bounded, and a text none of the
# formats reads raises each time (lru_cache keeps no exception).
@lru_cache(maxsize=1 << 16)
def _parse_text(value: str, formats: tuple[str, ...]) -> date | None:
    text = _ascii(value)
    if not text:
        return None
    # A time of day after the date (exports of timestamps) is not part of the date.
    head = text.split(" ")[0].split("T")[0] if ("-" in text or "/" in text) else text
    for fmt in formats:
        day = _read(head, fmt)
        if day is not None:
            return day
    raise DateProblem(f"'{value}' is not a date in the formats {', '.join(formats)}")
