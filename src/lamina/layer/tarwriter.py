"""Write a tar stream while hashing it: the sha256 of what was written is the diff_id.

Entries go in either as raw byte ranges copied from seekable inputs (adjacent ranges of
one input are merged into one copy) or as encoded headers plus payload chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from lamina.digest import CHUNK, Hasher
from lamina.errors import InvalidInputError
from lamina.layer import tarformat as tf


class TarSink:
    """A tar being written to `out`; `finish()` ends it and returns (diff_id, size)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hasher = Hasher()
        self._buffer = bytearray(CHUNK)
        self._pending: tuple[BinaryIO, int, int] | None = None

    @property
    def position(self) -> int:
        """Where the next entry starts in the output (bytes written or pending)."""
        pending = self._pending
        return self._hasher.size + (pending[2] - pending[1] if pending else 0)

    def write(self, data: bytes | memoryview) -> None:
        self._flush_range()
        self._emit(data)

    def _emit(self, data: bytes | memoryview) -> None:
        self._hasher.update(data)
        self._out.write(data)

    def copy_range(self, src: BinaryIO, start: int, end: int) -> None:
        """Copy bytes [start, end) of `src` verbatim (merged with an adjacent pending range)."""
        pending = self._pending
        if pending is not None and pending[0] is src and pending[2] == start:
            self._pending = (src, pending[1], end)
            return
        self._flush_range()
        self._pending = (src, start, end)

    def _flush_range(self) -> None:
        if self._pending is None:
            return
        src, start, end = self._pending
        self._pending = None
        src.seek(start)
        view = memoryview(self._buffer)
        remaining = end - start
        while remaining > 0:
            n = src.readinto(view[: min(remaining, CHUNK)])  # type: ignore[attr-defined]
            if not n:
                raise InvalidInputError("a layer is truncated: tar data ends early")
            self._emit(view[:n])
            remaining -= n

    def add(self, header: tf.Header, payload: Iterable[bytes] = ()) -> None:
        """Encode `header` and write it with its payload (`header.size` bytes), padded."""
        self.write(tf.encode(header))
        written = 0
        for chunk in payload:
            self._emit(chunk)
            written += len(chunk)
        if written != header.size:
            raise InvalidInputError(
                f"{header.name!r} changed while being archived "
                f"({written} bytes read, {header.size} expected)"
            )
        self._emit(bytes(tf.padded(written) - written))

    def add_payload_range(self, header: tf.Header, src: BinaryIO, start: int) -> None:
        """Encode `header`, then copy its padded payload from `src` starting at `start`."""
        self.write(tf.encode(header))
        if header.type not in tf.HEADER_ONLY and header.size:
            self.copy_range(src, start, start + tf.padded(header.size))

    def finish(self) -> tuple[str, int]:
        self.write(tf.END_OF_ARCHIVE)
        return self._hasher.digest, self._hasher.size
