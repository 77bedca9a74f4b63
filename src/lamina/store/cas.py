"""Content-addressed blobs under `blobs/sha256/`, written atomically and verified.

A blob is written to a temp file beside the store, hashed as it streams in,
fsynced, and only then renamed into place under its digest. Readers get a
stream that re-hashes what they read and raises if the bytes went bad on disk.
Readers also find a blob a writer has just deleted, in the trash (store/trash.py),
for as long as they hold the store's readers lock; `has` (what writers ask) does not.

Contracts (what each method verifies; what it guarantees when it fails):
- `stream_to_temp`: hashes every byte it copies; on failure the temp file is gone.
- `open` / `read_bytes`: NotFoundError when absent; the bytes are checked against the
  digest (at the end of the stream / whole), DigestMismatchError when they differ.
- `adopt`: takes a temp file the CALLER verified (its sha256 is `dig`); one rename,
  so the blob is there whole or not at all; a blob already present is kept.
- `remove`: the blob is gone (or was not there); returns the bytes freed.
BlobStore does no locking and keeps no index: Store and its Transaction do that.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lamina import digest
from lamina.atomic import staged
from lamina.errors import NotFoundError

if TYPE_CHECKING:
    from lamina.layer.indexfile import Building


def stream_to_temp(stream: BinaryIO, tmp_dir: Path) -> tuple[Path, str, int]:
    """Copy a stream into a new temp file, hashing as it goes; returns (path, digest, size)."""
    hasher = digest.Hasher()
    with staged(tmp_dir) as (f, tmp):
        while chunk := stream.read(digest.CHUNK):
            hasher.update(chunk)
            f.write(chunk)
    return tmp, hasher.digest, hasher.size


class BlobStore:
    """The `blobs/sha256` directory of an OCI layout (see the module doc's contracts)."""

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

    def adopt(self, tmp: Path, dig: str, index: Building | None = None) -> None:
        """Move a verified temp file into place under its digest (a plain blob directory
        keeps no header `index`)."""
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


class BlobDir(BlobStore):
    """A LayerSink over a bare directory of blobs, with no index: for an operation whose
    result is written somewhere else (squash -i/-o writes an archive, not a store).

    Blobs are verified as they come in, as a store's are; there are no names and no
    transactions: the caller removes the directory when it is done.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.dir.mkdir(parents=True, exist_ok=True)

    def has_blob(self, dig: str) -> bool:
        return self.has(dig)

    def put_blob(self, stream: BinaryIO, expected: str | None = None) -> tuple[str, int]:
        tmp, dig, size = stream_to_temp(stream, self.tmp)
        if expected is not None and dig != expected:
            tmp.unlink(missing_ok=True)
            digest.check(expected, dig, f"blob {expected}")
        self.adopt(tmp, dig)
        return dig, size

    def put_bytes(self, data: bytes) -> str:
        dig, _ = self.put_blob(io.BytesIO(data))
        return dig

    def staging_file(self) -> Path:
        with staged(self.tmp) as (_, tmp):
            return tmp

    def blob_size(self, dig: str) -> int:
        return self.size(dig)

    def open_blob(self, dig: str) -> BinaryIO:
        return self.open(dig)
