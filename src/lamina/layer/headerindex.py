"""A layer's tar headers in compact form: the in-memory entry table of the tree, and the
header index file the store keeps per layer (docs/design.md §11).

    index = HeaderIndex.of(stream)          # one pass over the headers
    index.name(i), index.type(i), index.data_size(i), index.header_offset[i] ...
    data = index.to_bytes(diff_id); HeaderIndex.from_bytes(data, diff_id)

One row per tar entry (extended headers folded in, as `TarReader` yields them), in tar
order. Fields live in `array`s (8 bytes each) and two byte buffers (names; the rare
fields as one JSON object per entry that has any: link target, user and group names,
device numbers, PAX records), so a million entries cost about 65 bytes each plus their
names, and no Python object each. `member(i)` gives the full `Member` back, equal to
the one the reader produced.

File format (version 1, little-endian): MAGIC, a fixed header (version, count, byte
lengths of the names and extras, the tar's size, the layer's diff_id), the arrays in
`FILE_COLUMNS` order, the types (1 byte each), the names, the extras, then the sha256 of
all that. `from_bytes` returns None for anything else (other version, other layer,
damage): the caller rebuilds it from the layer. The index is only a cache.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from lamina.layer import paths
from lamina.layer import tarformat as tf
from lamina.layer.tarstream import Member, TarReader
from lamina.layer.whiteout import PREFIX, Deletion, Kind, classify

MAGIC = b"LAMIDX\x00\n"
VERSION = 1
HEAD = struct.Struct("<IQQQQ80s")  # version, count, names, extras, tar size, diff_id
_COLUMNS = ("header_offset", "data_offset", "size", "mode", "uid", "gid", "mtime")
FILE_COLUMNS = (*_COLUMNS, "name_end", "extra_at")  # the columns in file order
_INT64 = (-(1 << 63), (1 << 63) - 1)
_NO_EXTRA = -1
_SWAP = sys.byteorder != "little"


def _col() -> array[int]:
    return array("q")


def _extra(m: Member) -> dict[str, object]:
    extra: dict[str, object] = {}
    if m.linkname:
        extra["l"] = m.linkname
    if m.uname:
        extra["u"] = m.uname
    if m.gname:
        extra["g"] = m.gname
    if m.devmajor or m.devminor:
        extra["d"] = [m.devmajor, m.devminor]
    if m.pax:
        extra["p"] = m.pax
    return extra


def head(diff_id: str, count: int, names: int, extras: int, tar_size: int) -> bytes:
    """The start of an index file: MAGIC and the fixed header (see module doc)."""
    return MAGIC + HEAD.pack(VERSION, count, names, extras, tar_size, diff_id.encode())


def le_bytes(values: array[int]) -> memoryview:
    """A column as the file holds it: 8 bytes a row, little-endian."""
    if _SWAP:
        values = array("q", values)
        values.byteswap()
    return memoryview(values).cast("B")


class HeaderIndex:
    """The entries of one layer tar (see module doc)."""

    def __init__(self) -> None:
        self.header_offset, self.data_offset, self.size = _col(), _col(), _col()
        self.mode, self.uid, self.gid, self.mtime = _col(), _col(), _col(), _col()
        self.name_end, self.extra_at = _col(), _col()
        self.types = bytearray()
        self.names = bytearray()
        self.extras = bytearray()
        self.tar_size = 0  # bytes of the tar (the stream's end, when known)

    # -- building ------------------------------------------------------------------------
    @classmethod
    def of(cls, stream: BinaryIO, what: str = "layer") -> HeaderIndex:
        """The index of a seekable tar file, read from its start (headers only)."""
        stream.seek(0)
        index = cls.collect(TarReader(stream, what))
        index.tar_size = stream.seek(0, 2)
        return index

    @classmethod
    def collect(cls, members: Iterable[Member]) -> HeaderIndex:
        index = cls()
        for member in members:
            index.add(member)
        return index

    def add(self, m: Member) -> None:
        """Append one entry (the hot path of an index build: kept lean)."""
        extra: dict[str, object] | None = None
        if m.linkname or m.uname or m.gname or m.devmajor or m.devminor or m.pax:
            extra = _extra(m)
        self.header_offset.append(m.header_offset)
        self.data_offset.append(m.data_offset)
        self.size.append(m.size)
        try:
            self.mode.append(m.mode)
            self.uid.append(m.uid)
            self.gid.append(m.gid)
            self.mtime.append(m.mtime)
        except OverflowError:  # a base-256 number beyond 64 bits: kept in the extras
            extra = self._overflow(m, extra)
        if extra:
            self.extra_at.append(len(self.extras))
            self.extras += json.dumps(extra, separators=(",", ":")).encode() + b"\n"
        else:
            self.extra_at.append(_NO_EXTRA)
        self.names += m.name.encode("utf-8", "surrogateescape")
        self.name_end.append(len(self.names))
        self.types.append(ord(m.type))
        end = m.data_offset + tf.padded(m.data_size)
        if end > self.tar_size:
            self.tar_size = end

    def add_row(self, other: HeaderIndex, i: int, shift: int) -> None:
        """Append row `i` of `other`, its offsets moved by `shift`: the entry copied byte
        for byte to another place (what `add(other.member(i))`, shifted, would append)."""
        self.header_offset.append(other.header_offset[i] + shift)
        self.data_offset.append(other.data_offset[i] + shift)
        self.size.append(other.size[i])
        self.mode.append(other.mode[i])
        self.uid.append(other.uid[i])
        self.gid.append(other.gid[i])
        self.mtime.append(other.mtime[i])
        at = other.extra_at[i]
        if at == _NO_EXTRA:
            self.extra_at.append(_NO_EXTRA)
        else:
            self.extra_at.append(len(self.extras))
            self.extras += other.extras[at : other.extras.index(b"\n", at) + 1]
        self.names += other.names[other.name_end[i - 1] if i else 0 : other.name_end[i]]
        self.name_end.append(len(self.names))
        self.types.append(other.types[i])
        self.tar_size = max(self.tar_size, other.end_offset(i) + shift)

    def _overflow(self, m: Member, extra: dict[str, object] | None) -> dict[str, object]:
        extra = extra or {}
        row = len(self.size) - 1  # this entry's: some of its numbers may be in already
        for field in ("mode", "uid", "gid", "mtime"):
            column: array[int] = getattr(self, field)
            del column[row:]
            value = getattr(m, field)
            if not _INT64[0] <= value <= _INT64[1]:
                extra[field], value = value, 0
            column.append(value)
        return extra

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.types)

    def name(self, i: int) -> str:
        start = self.name_end[i - 1] if i else 0
        return self.names[start : self.name_end[i]].decode("utf-8", "surrogateescape")

    def type(self, i: int) -> str:
        return chr(self.types[i])

    def data_size(self, i: int) -> int:
        return 0 if chr(self.types[i]) in tf.HEADER_ONLY else self.size[i]

    def end_offset(self, i: int) -> int:
        return self.data_offset[i] + tf.padded(self.data_size(i))

    def extra(self, i: int) -> dict[str, object]:
        at = self.extra_at[i]
        if at == _NO_EXTRA:
            return {}
        doc: dict[str, object] = json.loads(self.extras[at : self.extras.index(b"\n", at)])
        return doc

    def linkname(self, i: int) -> str:
        if self.extra_at[i] == _NO_EXTRA:
            return ""
        return str(self.extra(i).get("l", ""))

    def member(self, i: int) -> Member:
        """The entry as `TarReader` read it."""
        x = self.extra(i)
        m = Member(self.name(i), self.type(i))
        for field in _COLUMNS:
            value = x.get(field)
            setattr(m, field, value if isinstance(value, int) else getattr(self, field)[i])
        m.linkname, m.uname, m.gname = (str(x.get(k, "")) for k in ("l", "u", "g"))
        dev = x.get("d")
        if isinstance(dev, list):
            m.devmajor, m.devminor = int(dev[0]), int(dev[1])
        pax = x.get("p")
        m.pax = {str(k): str(v) for k, v in pax.items()} if isinstance(pax, dict) else None
        m.end_offset = m.data_offset + tf.padded(m.data_size)
        return m

    def deletions(self) -> tuple[list[Deletion], set[int]]:
        """The layer's whiteouts and opaque markers (in tar order), and the rows that are
        no filesystem entry (those, and whiteout-format bookkeeping: layer/whiteout.py).
        Rows holding the prefix are found by one search of the names buffer."""
        deletions: list[Deletion] = []
        skip: set[int] = set()
        needle, names, ends = PREFIX.encode(), self.names, self.name_end
        at = names.find(needle)
        while at >= 0:
            row = bisect_right(ends, at)
            parts = paths.split(self.name(row))
            kind, target = classify("/".join(parts))
            if kind is not Kind.NORMAL:
                skip.add(row)
            if kind is Kind.OPAQUE or kind is Kind.WHITEOUT:
                deletions.append((kind, parts[:-1], target))
            at = names.find(needle, ends[row])
        return deletions, skip

    # -- the file ------------------------------------------------------------------------
    def _parts(self, diff_id: str) -> Iterator[bytes | memoryview]:
        yield head(diff_id, len(self), len(self.names), len(self.extras), self.tar_size)
        for column in FILE_COLUMNS:
            yield le_bytes(getattr(self, column))
        yield from (memoryview(self.types), memoryview(self.names), memoryview(self.extras))

    def write(self, out: BinaryIO, diff_id: str) -> None:
        """Write the index file for the layer `diff_id` (see module doc)."""
        h = hashlib.sha256()
        for part in self._parts(diff_id):
            h.update(part)
            out.write(part)
        out.write(h.digest())

    def to_bytes(self, diff_id: str) -> bytes:
        body = b"".join(self._parts(diff_id))
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, diff_id: str) -> HeaderIndex | None:
        """The index in `data` if it is a sound version-1 index of `diff_id`, else None."""
        view = memoryview(data)
        start = len(MAGIC) + HEAD.size
        if len(view) < start + 32 or bytes(view[: len(MAGIC)]) != MAGIC:
            return None
        if hashlib.sha256(view[:-32]).digest() != bytes(view[-32:]):
            return None
        version, count, names, extras, tar_size, stored = HEAD.unpack(view[len(MAGIC) : start])
        if version != VERSION or stored.rstrip(b"\0") != diff_id.encode():
            return None
        if len(view) != start + 9 * 8 * count + count + names + extras + 32:
            return None
        index = cls()
        index.tar_size = tar_size
        at = start
        for column in FILE_COLUMNS:
            values: array[int] = getattr(index, column)
            values.frombytes(view[at : at + 8 * count])
            if _SWAP:
                values.byteswap()
            at += 8 * count
        index.types = bytearray(view[at : at + count])
        index.names = bytearray(view[at + count : at + count + names])
        index.extras = bytearray(view[at + count + names : at + count + names + extras])
        return index
