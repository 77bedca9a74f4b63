"""Content digests: parsing, hashing streams, verifying while copying."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from lamina.errors import DigestMismatchError, InvalidInputError, LaminaError

ALGORITHM = "sha256"
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
CHUNK = 1 << 20  # 1 MiB: large enough for throughput, small enough to keep memory flat


def is_digest(value: str) -> bool:
    return bool(_DIGEST_RE.match(value))


def validate(value: str) -> str:
    """Return `value` if it is a well-formed sha256 digest, else raise."""
    if not isinstance(value, str) or not _DIGEST_RE.match(value):
        raise InvalidInputError(f"malformed digest {value!r}", "expected sha256:<64 hex digits>")
    return value


def hex_of(digest: str) -> str:
    return validate(digest).split(":", 1)[1]


def short(value: str, n: int = 12, *, algorithm: bool = False) -> str:
    """An ID or digest as people read it: Docker's `stringid.TruncateID` (the first `n` hex
    digits after the `sha256:`), or with `algorithm=True` the form errors name blobs by
    (`sha256:` and 12 hex digits). `short("sha256:0123456789abcdef...")` -> `0123456789ab`."""
    head, sep, tail = value.partition(":")
    if not sep:
        return value[:n]
    return f"{head}{sep}{tail[:n]}" if algorithm else tail[:n]


def of_bytes(data: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(data).hexdigest()}"


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """Docker's chain IDs: chain(0)=diff(0), chain(i)=sha256(chain(i-1) + " " + diff(i))."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else of_bytes(f"{out[-1]} {diff_id}".encode()))
    return out


def read_into(stream: BinaryIO, buffer: memoryview) -> int:
    """Fill (up to) `buffer` from `stream`; 0 at the end. Reading into one reused buffer
    instead of a fresh 1 MiB bytes per read keeps a long stream from churning the heap
    (which glibc, with threads, fragments: see docs/design.md §11.1)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return int(readinto(buffer) or 0)
    data = stream.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


class Hasher:
    """Incremental sha256 that also counts bytes."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)
        self.size += len(data)

    @property
    def digest(self) -> str:
        return f"{ALGORITHM}:{self._h.hexdigest()}"


class HashingReader:
    """Wraps a readable stream; hashes and counts everything read through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.hasher = Hasher()

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.hasher.update(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return self.hasher.digest

    @property
    def size(self) -> int:
        return self.hasher.size


class HashingWriter:
    """Wraps a writable stream; hashes and counts everything written through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.hasher = Hasher()

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()

    def writable(self) -> bool:
        return True


class VerifyingReader:
    """Reads a stream and checks its digest when the end is reached (then raises if bad)."""

    def __init__(self, stream: BinaryIO, expected: str, what: str) -> None:
        self._stream = stream
        self._hasher = Hasher()
        self._expected = expected
        self._what = what
        self._checked = False

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if data:
            self._hasher.update(data)
        elif n != 0 and not self._checked:
            self._checked = True
            check(self._expected, self._hasher.digest, self._what)
        return data

    def readinto(self, buffer: memoryview) -> int:
        """As read, into the caller's buffer (see read_into)."""
        n = read_into(self._stream, buffer)
        if n:
            self._hasher.update(buffer[:n])
        elif len(buffer) and not self._checked:
            self._checked = True
            check(self._expected, self._hasher.digest, self._what)
        return n

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def of_stream(stream: BinaryIO) -> tuple[str, int]:
    """Hash a stream to its end; returns (digest, size)."""
    h = Hasher()
    while chunk := stream.read(CHUNK):
        h.update(chunk)
    return h.digest, h.size


def check(expected: str, actual: str, what: str) -> None:
    """Raise a clear error when a blob does not hash to the digest that names it."""
    if expected != actual:
        raise DigestMismatchError(
            f"{what} is corrupt: expected {expected}, got {actual}",
            "the data was damaged or altered; fetch or save it again",
        )


class BackgroundCheck:
    """Re-hashes open files against their digests on another core, while the caller
    reads only parts of them (squash reads headers, apply skips padding): a damaged
    store blob must not end up in a new image or container. `finish()` raises if one
    is bad. Each job is (expected digest, file descriptor); reads use pread, so the
    caller's file positions are not disturbed. The thread reads duplicates of the
    descriptors (closed when it ends), so a caller that fails and closes its files
    while the check runs neither kills the thread nor has it read a reused fd.

    Used as a context manager, leaving it (also on an error) stops the check and joins
    the thread: no thread outlives the command's work, nothing is printed from it."""

    def __init__(self, jobs: Sequence[tuple[str, int]], what: str = "stored layer") -> None:
        self._jobs = [(expected, os.dup(fd)) for expected, fd in jobs]
        self._what = what
        self._error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for expected, fd in self._jobs:
                hasher = Hasher()
                while not self._stop.is_set() and (chunk := os.pread(fd, CHUNK, hasher.size)):
                    hasher.update(chunk)
                if self._stop.is_set():
                    return
                check(expected, hasher.digest, f"{self._what} {short(expected, algorithm=True)}")
        except (LaminaError, OSError) as exc:
            self._error = exc
        finally:
            for _, fd in self._jobs:
                os.close(fd)

    def finish(self) -> None:
        """Wait for the whole check; raise what it found."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Abandon the check (the caller failed anyway) and wait for the thread to end."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> BackgroundCheck:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
