"""Where evidence files are kept: a local directory or an S3-compatible object store.

Both take and give bytes under a key the service makes (``hazard/<id>/<random>.<ext>``,
``check/<id>/...``): no name or path a client sent is ever used on disk or in a bucket.
The S3 store uses boto3 (its client is thread-safe; calls run in a worker thread, off
the event loop).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import boto3

from equipment.settings import EvidenceSettings

_KEY = re.compile(r"(hazard|check)/[0-9]{1,19}/[0-9a-f]{32}\.(jpg|png|pdf)")


def new_key(hazard_id: int, extension: str, *, kind: str = "hazard") -> str:
    """A fresh key for a file of hazard ``hazard_id`` (or, ``kind="check"``, of a
    supervision check)."""
    assert kind in ("hazard", "check")
    return f"{kind}/{hazard_id}/{secrets.token_hex(16)}.{extension}"


def _checked(key: str) -> str:
    # Keys come from the database, written by new_key; anything else is refused rather
    # than joined to a directory.
    if not _KEY.fullmatch(key):
        raise ValueError(f"not an evidence key: {key!r}")
    return key


class EvidenceStore(Protocol):
    async def put(self, key: str, data: bytes, media_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalStore:
    """Files under one directory, written whole then renamed (a reader never sees half)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    async def put(self, key: str, data: bytes, media_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)


class S3Store:
    """Objects in one bucket of an S3-compatible store (MinIO, OSS, COS, AWS)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def put(self, key: str, data: bytes, media_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=_checked(key),
            Body=data,
            ContentType=media_type,
        )

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            answer = self.client.get_object(Bucket=self.bucket, Key=_checked(key))
            return bytes(answer["Body"].read())

        return await asyncio.to_thread(read)


def s3_client(settings: EvidenceSettings) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
    )


@cache
def store_for(settings: EvidenceSettings) -> EvidenceStore:
    """The store the settings name (one per settings: the S3 client is kept and reused)."""
    if settings.s3_bucket:
        return S3Store(s3_client(settings), settings.s3_bucket)
    return LocalStore(settings.directory)
