"""Walk a layer tar as consecutive pieces that cover every byte, in order, exactly once.

A piece is an entry's headers (extended headers included), a window of an entry's data
(its padding included in the last window), or a gap: bytes between entries and after the
last one (end-of-archive blocks, trailing zeros, anything a tool left there). Entries are
found by `TarReader` on one stream while the bytes come from a second, read straight
through, so the pieces are the file's bytes whatever the tar holds: where the tar stops
making sense (a damaged header, an offset that goes backwards) the rest is one gap.
Exactness never depends on understanding the tar; matching does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import InvalidInputError
from lamina.layer.tarstream import Member, TarReader, is_seekable

Opener = Callable[[], BinaryIO]
WINDOW = 4 << 20  # data is matched and delta-compressed in windows of this many bytes
HEADER, DATA, GAP = "header", "data", "gap"


@dataclass(frozen=True, slots=True)
class Piece:
    kind: str  # HEADER, DATA or GAP
    offset: int  # where the piece starts in the tar
    data: bytes
    name: str = ""  # the entry's path (HEADER, DATA)
    within: int = 0  # DATA: offset of the piece inside the entry's padded data

    @property
    def key(self) -> bytes:
        """What identical pieces share (a 128-bit content hash; bytes are compared too)."""
        return hashlib.sha256(self.data).digest()[:16]


def _entries(stream: BinaryIO) -> Iterator[Member]:
    """The entries in order while their ranges make sense; stops at the first damage."""
    pos = 0
    try:
        for member in TarReader(stream, what="layer"):
            ok = pos <= member.header_offset <= member.data_offset <= member.end_offset
            if not ok:
                return
            yield member
            pos = member.end_offset
    except InvalidInputError:
        return


class _Bytes:
    """Sequential exact reads of a stream, tracking the position."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.pos = stream, 0

    def read(self, n: int) -> bytes:
        parts, want = [], n
        while want > 0:
            chunk = self.stream.read(want)
            if not chunk:
                break
            parts.append(chunk)
            want -= len(chunk)
        data = b"".join(parts)
        self.pos += len(data)
        return data


def pieces(opener: Opener, window: int = WINDOW) -> Iterator[Piece]:
    """Every byte of the tar `opener` gives, as pieces in order (see the module doc)."""
    with opener() as meta, opener() as raw:
        src = _Bytes(raw)
        for member in _entries(meta):
            if member.header_offset > src.pos:
                yield from _gap(src, member.header_offset - src.pos)
            start = src.pos
            head = src.read(member.data_offset - start)
            if len(head) < member.data_offset - start:  # the bytes ran out: the rest is gap
                yield Piece(GAP, start, head)
                return
            yield Piece(HEADER, start, head, member.name)
            within = 0
            while src.pos < member.end_offset:
                at = src.pos
                data = src.read(min(window, member.end_offset - at))
                if not data:
                    return
                yield Piece(DATA, at, data, member.name, within)
                within += len(data)
        yield from _gap(src, -1)


def _gap(src: _Bytes, n: int) -> Iterator[Piece]:
    """`n` bytes (all the rest when n < 0) as gap pieces of at most a window each."""
    while n != 0:
        at = src.pos
        data = src.read(WINDOW if n < 0 else min(WINDOW, n))
        if not data:
            return
        yield Piece(GAP, at, data)
        n -= len(data) if n > 0 else 0


class RandomAccess:
    """Reads of any range of a seekable layer tar (the reference, on both sides)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.size = stream.seek(0, os.SEEK_END)

    def read(self, offset: int, n: int) -> bytes:
        """Bytes [offset, offset+n): fewer only when the tar ends first."""
        if offset < 0 or n <= 0 or offset >= self.size:
            return b""
        self.stream.seek(offset)
        return _Bytes(self.stream).read(min(n, self.size - offset))

    def readinto(self, offset: int, view: memoryview) -> int:
        """Fill `view` with the bytes from `offset`; returns how many (fewer only when the
        tar ends first). No allocation: the decoder reuses its buffers."""
        if offset < 0 or offset >= self.size:
            return 0
        view = view[: min(len(view), self.size - offset)]
        self.stream.seek(offset)
        got = 0
        while got < len(view):
            n = self.stream.readinto(view[got:])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
        return got


@contextmanager
def random_access(opener: Opener) -> Iterator[RandomAccess]:
    """The layer `opener` gives, seekable: as it is, or spooled to a temporary file when
    the opener gives a pipe (memory stays flat either way)."""
    with ExitStack() as stack:
        stream = stack.enter_context(opener())
        if not is_seekable(stream):
            spool = stack.enter_context(tempfile.TemporaryFile())
            shutil.copyfileobj(stream, spool, 1 << 20)
            stream = spool
        yield RandomAccess(stream)
