"""Evidence files of hazards and supervision checks (photos, documents): which are taken,
told by their bytes.

A file's type is what its first bytes say (its magic number), never the name or the
Content-Type the client sent: a script renamed ``photo.jpg`` is refused. Pure: no I/O.
"""

from __future__ import annotations

from typing import Final

from equipment.domain.errors import InvalidValue

# (magic bytes at offset 0, media type, file extension)
SIGNATURES: Final = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)
MEDIA_TYPES: Final = frozenset(media for _, media, _ in SIGNATURES)


def sniff(data: bytes) -> str | None:
    """The media type ``data`` begins as, or None when it is none of the taken types."""
    for magic, media, _ in SIGNATURES:
        if data.startswith(magic):
            return media
    return None


def extension(media_type: str) -> str:
    return next(ext for _, media, ext in SIGNATURES if media == media_type)


def check(data: bytes, max_bytes: int) -> str:
    """The media type of an acceptable evidence file; InvalidValue for an empty, too
    large or unknown one."""
    if not data:
        raise InvalidValue("the evidence file is empty", field="file")
    if len(data) > max_bytes:
        raise InvalidValue(
            f"an evidence file holds at most {max_bytes} bytes, not {len(data)}", field="file"
        )
    media = sniff(data)
    if media is None:
        raise InvalidValue(
            "an evidence file is a JPEG or PNG photo or a PDF document (told by its content)",
            field="file",
        )
    return media
