"""The one tar check a layer passes when it enters the store (load, pull, import).

`CheckedTar` wraps the uncompressed stream the store hashes: it parses every header
as the bytes go by (no second read), so a layer that is not a valid tar never gets in,
with the verdicts of `TarReader` (those of Go's archive/tar, which Docker reads layers
with) plus the path rules every later command applies (`check_member`): names and
hardlink targets stay inside the root, whiteouts name a file, no GNU sparse entries.

Past the end-of-archive marker at most `MAX_TRAILING` bytes may follow (tar pads to a
record of 10 KiB; bigger blocking factors stay far below 1 MiB): the zeros of a
decompression bomb are refused as soon as they pass that, not after they filled a disk.

It also counts what Docker reports as a layer's size: the sum of the entries' size
fields (Docker's UnpackLayer adds `hdr.Size` of every entry), and, when given one,
fills the layer's header index (layer/headerindex.py) as the headers go by.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from lamina.digest import CHUNK
from lamina.errors import InvalidInputError
from lamina.layer import paths
from lamina.layer import tarformat as tf
from lamina.layer.indexfile import Building
from lamina.layer.tarstream import Member, TarReader
from lamina.layer.whiteout import PREFIX, classify

MAX_TRAILING = 1 << 20


def check_member(member: Member) -> None:
    """The rules a layer entry must meet wherever lamina reads it (UnsafePathError if not)."""
    parts = paths.split(member.name)
    if PREFIX in member.name:
        classify("/".join(parts))
    if member.type == tf.HARDLINK:
        paths.split(member.linkname, "hardlink target")


class _Tee:
    """The stream TarReader reads, keeping every byte it reads for the consumer."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.out = bytearray()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.out += data
        return data

    def seekable(self) -> bool:
        return False


class CheckedTar:
    """A readable stream of `raw`'s bytes, unchanged, that raises InvalidInputError
    (before its end is reached) when they are not a valid layer tar (with
    entry_rules=False: not a valid tar at all, for whole image archives)."""

    def __init__(
        self,
        raw: BinaryIO,
        what: str = "layer",
        entry_rules: bool = True,
        index: Building | None = None,
    ) -> None:
        self._raw = raw
        self._tee = _Tee(raw)
        self._reader = TarReader(self._tee, what)  # type: ignore[arg-type]
        self._entries: Iterator[Member] | None = iter(self._reader)
        self._data: Iterator[bytes] | None = None
        self._done = False
        self._what = what
        self._rules = entry_rules  # False for an image archive: its names are not a rootfs
        self._trailing = 0
        self.entries = 0
        self.content_size = 0  # Docker's layer size: the sum of the entries' sizes
        self.index = index

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Close the stream it reads (a reader that owns it closes it when done)."""
        self._raw.close()

    def read(self, n: int = -1) -> bytes:
        out = self._tee.out
        while not self._done and (n < 0 or len(out) < n):
            self._step()
        if n < 0 or n >= len(out):
            data = bytes(out)
            out.clear()
        else:
            data = bytes(out[:n])
            del out[:n]
        return data

    def _step(self) -> None:
        if self._data is not None:
            if next(self._data, None) is not None:
                return
            self._data = None
        if self._entries is None:  # past the end of the archive: pass the rest through
            got = len(self._tee.read(CHUNK))
            self._done = got == 0
            self._trailing += got
            if self._trailing > MAX_TRAILING:
                raise InvalidInputError(
                    f"{self._what} goes on for more than {MAX_TRAILING} bytes after its "
                    "end-of-archive marker",
                    "that is not a tar but damage or a decompression bomb",
                )
            return
        member = next(self._entries, None)
        if member is None:
            self._entries = None
            return
        if self._rules:
            check_member(member)
        self.entries += 1
        self.content_size += member.size
        if self.index is not None:
            self.index.add(member)
        if member.data_size:
            self._data = self._reader.data(member)


def content_size(stream: BinaryIO, what: str = "layer") -> int:
    """Docker's size of a layer (see the module docstring), from its headers alone."""
    return sum(m.size for m in TarReader(stream, what))
