"""Content-addressed blobs under `blobs/sha256/`, written atomically and verified.

A blob is written to a temp file beside the store, hashed as it streams in,
fsynced, and only then renamed into place under its digest. Readers get a
stream that re-hashes what they read and raises if the bytes went bad on disk.
Readers also find a blob a writer has just deleted, in the trash (store/trash.py),
for as long as they hold the store's readers lock; `has` (what writers ask) does not.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from lamina import digest
from lamina.errors import NotFoundError


def stream_to_temp(stream: BinaryIO, tmp_dir: Path) -> tuple[Path, str, int]:
    """Copy a stream into a new temp file, hashing as it goes; returns (path, digest, size)."""
    hasher = digest.Hasher()
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=".blob-")
    try:
        with os.fdopen(fd, "wb") as f:
            while chunk := stream.read(digest.CHUNK):
                hasher.update(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), hasher.digest, hasher.size


class BlobStore:
    """The `blobs/sha256` directory of an OCI layout."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "blobs" / "sha256"
        self.trash = root / "lamina" / "trash"

    def locate(self, dig: str) -> Path | None:
        """Where a reader finds the blob: in blobs/, else in the trash, else nowhere."""
        for path in (self.path(dig), self.trash / digest.hex_of(dig)):
            if path.is_file():
                return path
        return None

    def path(self, dig: str) -> Path:
        return self.dir / digest.hex_of(dig)

    def has(self, dig: str) -> bool:
        return self.path(dig).is_file()

    def size(self, dig: str) -> int:
        return (self.locate(dig) or self.path(dig)).stat().st_size

    def open(self, dig: str) -> BinaryIO:
        """A verifying stream of the blob's bytes."""
        path = self.locate(dig)
        if path is None:
            raise NotFoundError(f"blob {dig} is not in the store", "load or pull the image again")
        stream = open(path, "rb")  # noqa: SIM115 - the reader closes it
        return digest.VerifyingReader(stream, dig, f"stored blob {dig}")  # type: ignore[return-value]

    def read_bytes(self, dig: str) -> bytes:
        """Small blobs only (configs, manifests): read and verify."""
        path = self.locate(dig) or self.path(dig)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob {dig} is not in the store", "load the image again") from None
        digest.check(dig, digest.of_bytes(data), f"stored blob {dig}")
        return data

    def adopt(self, tmp: Path, dig: str) -> None:
        """Move a verified temp file into place under its digest."""
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.path(dig)
        if target.exists():
            tmp.unlink(missing_ok=True)
            return
        os.replace(tmp, target)

    def remove(self, dig: str) -> int:
        """Delete a blob; returns the bytes freed."""
        path = self.path(dig)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def all(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return [
            f"sha256:{p.name}" for p in self.dir.iterdir() if digest.is_digest(f"sha256:{p.name}")
        ]
