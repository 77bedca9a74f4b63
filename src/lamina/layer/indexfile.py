"""A layer's header index file, written and read in bounded memory.

    with IndexBuilder(new_file) as index:        # new_file(): a new empty temp file
        index.add(member) ...                     # or index.add_row(table, row, shift)
        index.tar_size = size
        index.write(out, diff_id)                 # HeaderIndex's version-1 file

It takes rows as `HeaderIndex` does and writes the same file byte for byte, but holds
at most `bound` bytes of them (about `ROW_BYTES` a row plus its name and extras): past
that it appends the rows it holds to its temp files, one per part of the file (the
nine columns, the types, the names, the extras; names and extras offsets made
absolute), and starts again with none. `write` streams each part's temp file and then
the rows still held, hashing as it goes: no step holds more than the bound and a 1 MiB
chunk, however many entries the layer has. Without `new_file` it never spills (all
rows in memory, as a HeaderIndex).

The temp files are the caller's to place (the store's: a transaction's staging area,
removed with it) and the builder's to remove: `close()` (the end of the `with`)
deletes them, whether the build finished or failed. A write error while spilling
(ENOSPC) is raised as it is: the caller fails as on any full disk.

`scan(stream, diff_id)` checks an index file as `HeaderIndex.from_bytes` does (magic,
version, layer, lengths, sha256) while it streams through it, and sums its size column
(Docker's size of the layer: store/layersizes.py), without holding the rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeAlias

from lamina.digest import CHUNK
from lamina.layer.headerindex import (
    FILE_COLUMNS,
    HEAD,
    MAGIC,
    VERSION,
    HeaderIndex,
    head,
    le_bytes,
)
from lamina.layer.tarstream import Member, TarReader

BOUND = 4 << 20  # bytes of rows held before they go to disk (read when a builder is made)
ROW_BYTES = 8 * len(FILE_COLUMNS) + 1  # a row's columns and its type byte


class IndexBuilder:
    """Rows of one layer's header index, spilled past `bound` (see module doc)."""

    def __init__(
        self, new_file: Callable[[], Path] | None = None, bound: int | None = None
    ) -> None:
        self._new_file = new_file
        self._bound = BOUND if bound is None else bound
        self._rows = HeaderIndex()
        self._paths: list[Path] = []
        self._files: list[BinaryIO] = []
        self._count = self._names = self._extras = 0  # what the files hold
        self._spilled_end = 0  # the furthest entry end of the rows spilled

    def __enter__(self) -> IndexBuilder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @classmethod
    def of(
        cls, stream: BinaryIO, new_file: Callable[[], Path] | None = None, what: str = "layer"
    ) -> IndexBuilder:
        """The index of a seekable tar file, read from its start (headers only)."""
        stream.seek(0)
        index = cls(new_file)
        try:
            index.collect(TarReader(stream, what))
            index.tar_size = stream.seek(0, 2)
        except BaseException:
            index.close()
            raise
        return index

    # -- building ------------------------------------------------------------------------
    def collect(self, members: Iterable[Member]) -> None:
        for member in members:
            self.add(member)

    def add(self, m: Member) -> None:
        """Append one entry (HeaderIndex.add)."""
        rows = self._rows
        rows.add(m)
        if ROW_BYTES * len(rows.types) + len(rows.names) + len(rows.extras) >= self._bound:
            self._spill()

    def add_row(self, other: HeaderIndex, i: int, shift: int) -> None:
        """Append row `i` of `other`, offsets moved by `shift` (HeaderIndex.add_row)."""
        rows = self._rows
        rows.add_row(other, i, shift)
        if ROW_BYTES * len(rows.types) + len(rows.names) + len(rows.extras) >= self._bound:
            self._spill()

    @property
    def tar_size(self) -> int:
        """The tar's size: the furthest entry end, unless set (as HeaderIndex's)."""
        return max(self._spilled_end, self._rows.tar_size)

    @tar_size.setter
    def tar_size(self, value: int) -> None:
        self._spilled_end = 0
        self._rows.tar_size = value

    def __len__(self) -> int:
        return self._count + len(self._rows)

    @property
    def spilled(self) -> int:
        """Rows written to the temp files so far."""
        return self._count

    def _spill(self) -> None:
        if self._new_file is None:
            return
        if not self._files:
            for _ in range(len(FILE_COLUMNS) + 3):
                self._paths.append(self._new_file())
                self._files.append(open(self._paths[-1], "r+b"))  # noqa: SIM115 - close() closes
        rows = self._rows
        for f, part in zip(self._files, self._parts(rows), strict=True):
            f.write(part)
        self._count += len(rows)
        self._names += len(rows.names)
        self._extras += len(rows.extras)
        self._spilled_end = max(self._spilled_end, rows.tar_size)
        self._rows = HeaderIndex()

    def _parts(self, rows: HeaderIndex) -> Iterator[memoryview]:
        """`rows`' parts of the file, their name and extras offsets past those spilled."""
        for column in FILE_COLUMNS:
            values: array[int] = getattr(rows, column)
            if column == "name_end" and self._names:
                values = array("q", map(self._names.__add__, values))
            elif column == "extra_at" and self._extras and rows.extras:
                base = self._extras
                values = array("q", [at + base if at >= 0 else at for at in values])
            yield le_bytes(values)
        yield from (memoryview(rows.types), memoryview(rows.names), memoryview(rows.extras))

    # -- the file ------------------------------------------------------------------------
    def write(self, out: BinaryIO, diff_id: str) -> None:
        """Write the index file of layer `diff_id`: HeaderIndex.write's bytes for the same
        rows, streamed from the temp files and the rows held."""
        if self._count and not self._files:
            raise ValueError("IndexBuilder.write after close(): its spilled rows are gone")
        rows, h = self._rows, hashlib.sha256()
        start = head(
            diff_id,
            len(self),
            self._names + len(rows.names),
            self._extras + len(rows.extras),
            self.tar_size,
        )
        h.update(start)
        out.write(start)
        spilled: list[BinaryIO | None] = [*self._files] or [None] * (len(FILE_COLUMNS) + 3)
        for f, part in zip(spilled, self._parts(rows), strict=True):
            if f is not None:
                f.flush()
                f.seek(0)
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                f.seek(0, 2)  # more rows may follow
            h.update(part)
            out.write(part)
        out.write(h.digest())

    def to_bytes(self, diff_id: str) -> bytes:
        """The file's bytes (small indexes and tests)."""
        out = io.BytesIO()
        self.write(out, diff_id)
        return out.getvalue()

    def close(self) -> None:
        """Remove the temp files (the rows held stay, for a write from memory)."""
        for f in self._files:
            with contextlib.suppress(OSError):  # a flush onto a full disk: discarded anyway
                f.close()
        for path in self._paths:
            path.unlink(missing_ok=True)
        self._files, self._paths = [], []


Building: TypeAlias = HeaderIndex | IndexBuilder  # what a writer fills as it goes


@dataclass(frozen=True)
class Scanned:
    """What `scan` read from a sound index file."""

    entries: int
    tar_size: int
    content_size: int  # the sum of the entries' size fields


def scan(stream: BinaryIO, diff_id: str) -> Scanned | None:
    """The facts of the index file `stream` (a real file) if it is a sound version-1
    index of `diff_id`, else None; read in CHUNK pieces (see module doc)."""
    start = len(MAGIC) + HEAD.size
    first = stream.read(start)
    if len(first) < start or first[: len(MAGIC)] != MAGIC:
        return None
    version, count, names, extras, tar_size, stored = HEAD.unpack(first[len(MAGIC) :])
    if version != VERSION or stored.rstrip(b"\0") != diff_id.encode():
        return None
    body = len(FILE_COLUMNS) * 8 * count + count + names + extras
    if os.fstat(stream.fileno()).st_size != start + body + 32:
        return None
    h = hashlib.sha256(first)
    low, high = 16 * count, 24 * count  # the size column, third in the body
    total = at = 0
    while at < body:
        chunk = stream.read(min(CHUNK, body - at))  # CHUNK is a multiple of 8: aligned
        if not chunk:
            return None
        h.update(chunk)
        if at < high and at + len(chunk) > low:
            sizes = array("q", chunk[max(low - at, 0) : min(high - at, len(chunk))])
            if sys.byteorder != "little":
                sizes.byteswap()
            total += sum(sizes)
        at += len(chunk)
    if stream.read(33) != h.digest():
        return None
    return Scanned(count, tar_size, total)
