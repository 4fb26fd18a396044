"""Which encoding a CSV export is in: UTF-8 or GB18030 (a superset of GBK), never guessed.

Exports of the provincial systems come in both. The bytes decide when only one decoding
succeeds, or when one of the two decodings gives characters a Chinese register does not
hold (Cyrillic, combining marks, private use...). When both decodings succeed and both
read as plausible Chinese text (the classic case is GBK ``联通``, whose bytes are also
valid UTF-8), the file is refused with that reason and the caller names the encoding.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["ENCODINGS", "AmbiguousEncoding", "Detected", "detect_encoding", "is_plausible"]

ENCODINGS = ("utf-8", "gb18030")
_BOM = codecs.BOM_UTF8

# What a Chinese register's text holds beyond ASCII: CJK ideographs (extension A and the
# basic block), CJK symbols and punctuation, full-width forms, general punctuation (“”—…),
# the middle dot, ×, °, №, circled numbers, Roman numerals (Ⅰ类 vessels), Greek (φ, Ω).
_PLAUSIBLE_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0x3000, 0x303F),
    (0xFF00, 0xFFEF),
    (0x2000, 0x206F),
    (0x2100, 0x218F),
    (0x2460, 0x24FF),
    (0x0391, 0x03C9),
    (0xF900, 0xFAFF),
)
_PLAUSIBLE_SINGLES = frozenset({0x00B7, 0x00D7, 0x00B0, 0x00B1, 0xFEFF})


class AmbiguousEncoding(ValueError):
    """The bytes do not say which encoding they are in; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Detected:
    encoding: str  # a Python codec name: "utf-8-sig", "utf-8" or "gb18030"
    reason: str


_IMPLAUSIBLE = re.compile(
    "[^\\x00-\\x7f"
    + "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in _PLAUSIBLE_RANGES)
    + "".join(f"\\u{point:04x}" for point in sorted(_PLAUSIBLE_SINGLES))
    + "]"
)


def is_plausible(text: str) -> bool:
    """Every character is one a Chinese register export holds."""
    return _IMPLAUSIBLE.search(text) is None


def _decode(sample: bytes, encoding: str, complete: bool) -> tuple[str | None, int]:
    """The sample's text, or None and the byte offset where it stops decoding. An
    incomplete sample may end inside a character: that tail is not an error."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        return decoder.decode(sample, final=complete), -1
    except UnicodeDecodeError as error:
        return None, error.start


def detect_encoding(sample: bytes, *, complete: bool) -> Detected:
    """The encoding of a CSV file from its first bytes (``complete``: the whole file).

    Raises AmbiguousEncoding with the reason when the bytes do not decide.
    """
    if sample.startswith(_BOM):
        return Detected("utf-8-sig", "UTF-8 byte order mark")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise AmbiguousEncoding("the file is UTF-16: save it as UTF-8 or GBK")
    if sample.isascii():
        return Detected("utf-8", "ASCII only (the same in UTF-8 and GBK)")
    utf8, utf8_stop = _decode(sample, "utf-8", complete)
    gb, gb_stop = _decode(sample, "gb18030", complete)
    utf8_ok = utf8 is not None and is_plausible(utf8)
    gb_ok = gb is not None and is_plausible(gb)
    if utf8_ok and gb_ok:
        raise AmbiguousEncoding(
            "the bytes read as Chinese text both in UTF-8 and in GBK/GB18030: name the encoding"
        )
    if utf8_ok:
        return Detected("utf-8", "valid UTF-8 (not plausible as GBK)")
    if gb_ok:
        where = f"at byte {utf8_stop + 1}" if utf8 is None else "(characters no register holds)"
        return Detected("gb18030", f"GBK/GB18030: not UTF-8 {where}")
    problems = []
    problems.append(
        f"not UTF-8 at byte {utf8_stop + 1}"
        if utf8 is None
        else "UTF-8 gives characters no register holds"
    )
    problems.append(
        f"not GBK at byte {gb_stop + 1}" if gb is None else "GBK gives characters no register holds"
    )
    raise AmbiguousEncoding("neither UTF-8 nor GBK: " + "; ".join(problems))
