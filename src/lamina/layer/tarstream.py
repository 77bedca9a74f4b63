"""Read a tar stream entry by entry: header values plus the raw byte range of each entry.

`Member.header_offset .. end_offset` covers the entry's extended headers (PAX, GNU long
name/link), its own header and its padded data, so a writer can copy an entry verbatim
from a seekable file without re-encoding it. On seekable streams data is skipped with a
seek; on pipes it is read past (or handed to the caller through `TarReader.data`).
Only headers are held in memory, one at a time.

Verdicts follow Go's archive/tar (what Docker reads layers with): a negative or
impossibly large size, a bad checksum, a zero block followed by a non-zero one, or
a NUL in a PAX key or path are corrupt headers; extended headers at the very end
(a PAX header with no entry after it) end the archive cleanly; global PAX headers
are checked but, as Go and Docker do, never change the entries after them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import InvalidInputError
from lamina.layer import tarformat as tf

MAX_SIZE = (1 << 63) - 1  # Go's int64: a larger (or negative) size is a corrupt header
_MAX_EXTENDED = 1 << 20  # PAX / GNU long-name payloads are read whole: bound them (as Go)
_BUFFER = 1 << 16  # read-ahead for headers: many small entries per read
_SEEK_OVER = 1 << 16  # skip data by seeking when the gap is larger than this
_REGULAR_TYPES = frozenset({tf.REGULAR, "\0", tf.CONTIGUOUS})
_DEVICES = frozenset({tf.CHAR, tf.BLOCKDEV})
_EXTENSIONS = frozenset({tf.PAX_LOCAL, tf.PAX_LOCAL_SOLARIS, tf.GNU_LONGNAME, tf.GNU_LONGLINK})
_NOT_ENTRIES = _EXTENSIONS | {tf.PAX_GLOBAL, tf.GNU_VOLUME}


@dataclass(slots=True)
class Member(tf.Header):
    """One tar entry. `type` is normalised: every regular-file flavour is "0" and a
    V7 regular entry whose name ends in "/" is a directory."""

    header_offset: int = 0
    data_offset: int = 0
    end_offset: int = 0

    @property
    def data_size(self) -> int:
        """Payload bytes stored in the archive (0 for header-only types)."""
        return 0 if self.type in tf.HEADER_ONLY else self.size

    def header(self) -> tf.Header:
        """The plain header values (a copy), e.g. to re-encode under another name."""
        return tf.Header(
            name=self.name,
            type=self.type,
            mode=self.mode,
            uid=self.uid,
            gid=self.gid,
            size=self.size,
            mtime=self.mtime,
            linkname=self.linkname,
            uname=self.uname,
            gname=self.gname,
            devmajor=self.devmajor,
            devminor=self.devminor,
            pax=dict(self.pax) if self.pax else None,
        )


def is_seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


class TarReader:
    """Iterate `Member`s of an uncompressed tar stream, starting at its current position.

    Offsets are positions in `stream` (so raw ranges can be copied with seek+read).
    A missing end-of-archive marker is tolerated at a block boundary (as Go and tarfile
    do); a truncated header or payload is an `InvalidInputError`."""

    def __init__(self, stream: BinaryIO, what: str = "layer") -> None:
        self._stream = stream
        self._what = what
        self._seekable = is_seekable(stream)
        self._buf = b""
        self._buf_start = stream.tell() if self._seekable else 0
        self._size = -1
        if self._seekable:
            self._size = stream.seek(0, io.SEEK_END)
            stream.seek(self._buf_start)

    # -- buffered access to absolute offsets -------------------------------------------
    def _fill(self, offset: int, n: int) -> bytes:
        """Bytes [offset, offset+n) of the stream (fewer at its end)."""
        end = self._buf_start + len(self._buf)
        if self._buf_start <= offset and offset + n <= end:
            start = offset - self._buf_start
            return self._buf[start : start + n]
        if offset < self._buf_start or (self._seekable and offset - end > _SEEK_OVER):
            self._stream.seek(offset)
            self._buf, self._buf_start = b"", offset
        elif offset >= end:
            self._discard(offset - end)
            self._buf, self._buf_start = b"", offset
        else:
            self._buf, self._buf_start = self._buf[offset - self._buf_start :], offset
        more = self._stream.read(max(n - len(self._buf), _BUFFER))
        self._buf += more
        return self._buf[:n]

    def _discard(self, n: int) -> None:
        while n > 0:
            got = len(self._stream.read(min(n, 1 << 20)))
            if got == 0:
                raise InvalidInputError(f"{self._what} is truncated: tar data ends early")
            n -= got

    def data(self, member: Member) -> Iterator[bytes]:
        """The payload of `member` in chunks. On a pipe, call it before the next member."""
        remaining, offset = member.data_size, member.data_offset
        while remaining > 0:
            chunk = self._fill(offset, min(remaining, 1 << 20))
            if not chunk:
                raise InvalidInputError(f"{self._what} is truncated in {member.name!r}")
            remaining -= len(chunk)
            offset += len(chunk)
            yield chunk

    # -- iteration ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[Member]:
        offset = self._buf_start
        while (member := self._next(offset)) is not None:
            yield member
            offset = member.end_offset

    def _payload(self, offset: int, size: int) -> bytes:
        if size > _MAX_EXTENDED:
            raise InvalidInputError(
                f"{self._what} has an extended header of {size} bytes at offset {offset}",
                f"more than {_MAX_EXTENDED} bytes is not a header but an attack or damage",
            )
        data = self._fill(offset + tf.BLOCK, size)
        if len(data) < size:
            raise InvalidInputError(f"{self._what} is truncated at offset {offset}")
        return data

    def _block(self, offset: int) -> bytes | None:
        at = offset - self._buf_start
        if at >= 0 and at + tf.BLOCK <= len(self._buf):  # the usual case, without a call
            block = self._buf[at : at + tf.BLOCK]
        else:
            block = self._fill(offset, tf.BLOCK)
        if not block:
            if self._size >= 0 and offset > self._size:
                raise InvalidInputError(f"{self._what} is truncated: tar data ends early")
            return None
        if len(block) < tf.BLOCK:
            raise InvalidInputError(f"{self._what} is truncated at offset {offset}")
        if block == tf.ZERO_BLOCK:
            self._after_zero_block(offset + tf.BLOCK)
            return None
        if not tf.checksum_ok(block):
            raise InvalidInputError(
                f"{self._what} is not a tar archive or is corrupt (bad header at offset {offset})"
            )
        return block

    def _after_zero_block(self, offset: int) -> None:
        """One zero block ends the archive only if the stream ends or another follows."""
        following = self._fill(offset, tf.BLOCK)
        if following and following != tf.ZERO_BLOCK:
            if len(following) < tf.BLOCK:
                raise InvalidInputError(f"{self._what} is truncated at offset {offset}")
            raise self._corrupt(offset)

    def _next(self, offset: int) -> Member | None:
        start = offset
        pax: dict[str, str] | None = None
        longname = longlink = None
        while True:
            block = self._block(offset)
            if block is None:
                return None  # extended headers with no entry after them: Go reads the end
            kind = chr(block[156])
            if kind not in _NOT_ENTRIES:
                break
            try:
                size = tf.number(block[124:136])
            except ValueError:
                raise self._corrupt(offset) from None
            if not 0 <= size <= MAX_SIZE:
                raise self._corrupt(offset)
            data = self._payload(offset, size)
            if kind == tf.PAX_GLOBAL:  # checked, then ignored (as Go and Docker do)
                tf.parse_pax(data, f"{self._what} offset {offset}")
                start = offset + tf.BLOCK + tf.padded(size)
                pax, longname, longlink = None, None, None  # Go: a global header is an entry
            elif kind == tf.GNU_VOLUME:
                start = offset + tf.BLOCK + tf.padded(size)
            elif kind == tf.GNU_LONGNAME:
                longname = tf.decode_str(tf.nts(data))
            elif kind == tf.GNU_LONGLINK:
                longlink = tf.decode_str(tf.nts(data))
            else:
                pax = {**(pax or {}), **tf.parse_pax(data, f"{self._what} offset {offset}")}
            offset += tf.BLOCK + tf.padded(size)
        return self._member(block, start, offset, pax, longname, longlink)

    def _corrupt(self, offset: int) -> InvalidInputError:
        return InvalidInputError(
            f"{self._what} is not a valid tar: invalid tar header at offset {offset}",
            "the layer is damaged or was not written by a tar tool",
        )

    def _member(
        self,
        block: bytes,
        start: int,
        offset: int,
        pax: dict[str, str] | None,
        longname: str | None,
        longlink: str | None,
    ) -> Member:
        kind = chr(block[156])
        if kind in (tf.GNU_SPARSE, tf.GNU_MULTIVOLUME) or (pax and "GNU.sparse.major" in pax):
            raise InvalidInputError(
                f"{self._what} holds a GNU sparse or multi-volume entry at offset {offset}",
                "lamina reads the tar formats container tools write; re-create the layer",
            )
        try:
            mode, uid, gid, size, mtime = tf.block_numbers(block)
            major, minor = tf.block_device(block) if kind in _DEVICES else (0, 0)
        except ValueError:
            raise self._corrupt(offset) from None
        m = Member(
            longname if longname is not None else tf.block_name(block),
            kind,
            mode,
            uid,
            gid,
            size,
            mtime,
            longlink if longlink is not None else tf.block_text(block, 157, 257),
            tf.block_text(block, 265, 297),
            tf.block_text(block, 297, 329),
            major,
            minor,
            pax,
            start,
            offset + tf.BLOCK,
            0,
        )
        if pax:
            self._apply_pax(m, pax, offset)
        if not 0 <= m.size <= MAX_SIZE:
            raise self._corrupt(offset)
        if m.type in _REGULAR_TYPES:
            m.type = tf.DIRECTORY if kind == "\0" and m.name.endswith("/") else tf.REGULAR
        m.end_offset = m.data_offset + tf.padded(m.data_size)
        return m

    def _apply_pax(self, m: Member, pax: dict[str, str], offset: int) -> None:
        try:
            for key, value in pax.items():
                if not value:
                    continue
                if key == "path":
                    m.name = value
                elif key == "linkpath":
                    m.linkname = value
                elif key in ("size", "uid", "gid"):
                    setattr(m, key, int(value))
                elif key == "mtime":
                    m.mtime = int(float(value)) if "." in value else int(value)
                elif key in ("uname", "gname"):
                    setattr(m, key, value)
        except ValueError:
            raise InvalidInputError(
                f"{self._what} has a corrupt PAX value in the header at offset {offset}"
            ) from None


def members(stream: BinaryIO, what: str = "layer") -> Iterator[Member]:
    """Shorthand: iterate the members of a tar stream."""
    return iter(TarReader(stream, what))
