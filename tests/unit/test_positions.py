"""Reading PostgreSQL's binary COPY of (id, longitude, latitude) into numpy."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from equipment.storage import positions


def copy_data(rows, *, extension: bytes = b"", sizes=(8, 8, 8), fields: int = 3) -> bytes:
    """Binary COPY bytes as PostgreSQL writes them (documented format)."""
    out = positions.SIGNATURE + struct.pack(">ii", 0, len(extension)) + extension
    for unit_id, lon, lat in rows:
        out += struct.pack(">h", fields)
        out += struct.pack(">i", sizes[0]) + struct.pack(">q", unit_id)
        out += struct.pack(">i", sizes[1]) + struct.pack(">d", lon)
        out += struct.pack(">i", sizes[2]) + struct.pack(">d", lat)
    return out + positions.TRAILER


def test_rows_are_read_exactly():
    rows = [(1, 112.135, 32.045), (2**40 + 7, 111.000001, 31.999999), (3, -0.0, 90.0)]
    ids, lons, lats = positions.parse(copy_data(rows))
    assert ids.dtype == np.int64 and lons.dtype == np.float64
    assert ids.tolist() == [r[0] for r in rows]
    assert lons.tolist() == [r[1] for r in rows] and lats.tolist() == [r[2] for r in rows]


def test_no_rows_and_a_header_extension():
    ids, lons, lats = positions.parse(copy_data([], extension=b"abc"))
    assert ids.size == lons.size == lats.size == 0
    ids, _, _ = positions.parse(copy_data([(5, 1.0, 2.0)], extension=b"abcd"))
    assert ids.tolist() == [5]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not copy data at all",
        copy_data([(1, 1.0, 2.0)])[:-1],  # truncated
        copy_data([(1, 1.0, 2.0)], sizes=(8, 8, -1)),  # a NULL (no data follows)
        copy_data([(1, 1.0, 2.0)], fields=4),
        copy_data([(1, 1.0, 2.0), (2, 3.0, 4.0)])[:-3] + positions.TRAILER,
    ],
)
def test_anything_else_is_refused(data: bytes):
    with pytest.raises(ValueError):
        positions.parse(data)


def test_packed_rows_are_read_exactly():
    """``packed_sql``'s bytea: int8send(id) || float8send(lon) || float8send(lat) per row."""
    rows = [(1, 112.135, 32.045), (2**40 + 7, 111.000001, 31.999999)]
    data = b"".join(struct.pack(">qdd", *row) for row in rows)
    ids, lons, lats = positions.unpack(data)
    assert list(zip(ids.tolist(), lons.tolist(), lats.tolist(), strict=True)) == rows
    assert all(a.size == 0 for a in positions.unpack(None))  # no unit in the box
    with pytest.raises(ValueError):
        positions.unpack(data[:-1])
