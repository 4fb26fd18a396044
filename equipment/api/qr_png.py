"""A QR symbol as a black-and-white PNG at 8 pixels a module: the same bytes as segno's
PNG writer (``save(kind="png", scale=8, border=..., compresslevel=...)``), for a
fraction of its CPU.

segno's writer builds each scanline pixel by pixel in Python (packing 8 pixels into a
byte with ``reduce``): 1.25-1.33 ms a symbol at zlib level 1, most of a new QR image's
CPU; this one 0.04-0.10 ms, mostly zlib's (bench/public_page.py's per-symbol table, a
2-core AMD EPYC VM). At 8 pixels a module in a 1-bit greyscale image each module is
exactly one byte (0x00 dark, 0xFF light), so a scanline is the matrix row translated
byte for byte. The image is laid out as segno lays it out (the quiet zone's rows, then
for each module row one scanline with filter None and ``scale - 1`` copies by filter Up,
whose bytes are all zero), so the compressed stream, and the file, are the same
(tests/unit/test_qr_png.py).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

SCALE = 8  # pixels a module: one byte of a 1-bit scanline
SIGNATURE = b"\x89PNG\r\n\x1a\n"
# segno's matrix holds 0x1 for a dark module, 0x0 for a light one; greyscale 1 bit: 0 is
# black.
_MODULE_BYTE = bytes.maketrans(b"\x00\x01", b"\xff\x00")


def _chunk(name: bytes, data: bytes) -> bytes:
    head = name + data
    return struct.pack(">I", len(data)) + head + struct.pack(">I", zlib.crc32(head))


def png(matrix: Sequence[bytes | bytearray], border: int, compresslevel: int) -> bytes:
    """The PNG of a square module matrix (rows of 0x0 light / 0x1 dark, as
    ``segno.QRCode.matrix``) with a quiet zone of ``border`` modules."""
    row_bytes = len(matrix) + 2 * border
    side = row_bytes * SCALE
    quiet_row = b"\x00" + b"\xff" * row_bytes
    quiet_side = b"\xff" * border
    same_as_above = (b"\x02" + bytes(row_bytes)) * (SCALE - 1)
    parts = [quiet_row * (border * SCALE)]
    for row in matrix:
        parts.append(b"\x00" + quiet_side + bytes(row).translate(_MODULE_BYTE) + quiet_side)
        parts.append(same_as_above)
    parts.append(quiet_row * (border * SCALE))
    header = struct.pack(">2I5B", side, side, 1, 0, 0, 0, 0)
    return b"".join(
        (
            SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(parts), compresslevel)),
            _chunk(b"IEND", b""),
        )
    )
