"""The QR image writer gives segno's own PNG, byte for byte: any text, any error level a
symbol may carry, the quiet zones and compression levels the service or a reader uses."""

from __future__ import annotations

import io
import zlib

import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.api import qr_png


def segno_png(qr: segno.QRCode, border: int, level: int) -> bytes:
    out = io.BytesIO()
    qr.save(out, kind="png", scale=8, border=border, compresslevel=level)
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(min_size=1, max_size=120),
    error=st.sampled_from("lmqh"),
    border=st.integers(0, 6),
    level=st.integers(0, 9),
)
def test_the_image_is_segnos_png(text: str, error: str, border: int, level: int) -> None:
    qr = segno.make(text, error=error, micro=False)
    assert qr_png.png(qr.matrix, border, level) == segno_png(qr, border, level)


def test_a_dark_module_is_a_black_byte_and_the_quiet_zone_white() -> None:
    qr = segno.make("https://tzsb.xiangyang.example/p/420606A1", error="m", micro=False)
    image = qr_png.png(qr.matrix, 4, 1)
    # IDAT's data, inflated: 4 modules of quiet rows (8 scanlines each), then the first
    # module row, whose left finder pattern starts dark at module 4.
    start = image.index(b"IDAT") + 4
    length = int.from_bytes(image[start - 8 : start - 4], "big")
    raw = zlib.decompress(image[start : start + length])
    width = int(qr.symbol_size(border=4)[0])
    assert raw[: width + 1] == b"\x00" + b"\xff" * width
    first_module_row = raw[32 * (width + 1) : 33 * (width + 1)]
    assert first_module_row[:6] == b"\x00\xff\xff\xff\xff\x00"
