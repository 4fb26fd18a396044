"""Dates as exports write them: ISO, slashes, dots, 年月日, compact digits, Excel serials.

The formats a file uses are named in its mapping profile, tried in order; a value none of
them reads is an error with the value, never a guess (``03/04/2019`` is April or March
only by a profile's word).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

__all__ = ["DEFAULT_DATE_FORMATS", "DateProblem", "parse_date"]

DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
# Excel's day 0 (its 1900 leap-year bug makes serials from March 1900 on count from here).
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_SERIALS = range(3_000, 80_000)  # 1908 to 2119: beyond that a number is no date


class DateProblem(ValueError):
    """A value that is no date in the profile's formats."""


def _ascii(text: str) -> str:
    return "".join(
        chr(ord(ch) - 0xFEE0) if 0xFF01 <= ord(ch) <= 0xFF5E else ch for ch in text
    ).strip()


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
    text = _ascii(value)
    if not text:
        return None
    # A time of day after the date (exports of timestamps) is not part of the date.
    head = text.split(" ")[0].split("T")[0] if ("-" in text or "/" in text) else text
    for fmt in formats:
        try:
            return datetime.strptime(head, fmt).date()
        except ValueError:
            continue
    raise DateProblem(f"'{value}' is not a date in the formats {', '.join(formats)}")
