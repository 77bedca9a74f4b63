"""The bytes of a layer patch: a plain header, then one zstd stream of operations.

    MAGIC (8 bytes "LMPATCH\\n") | version (1 byte) | length (4 bytes, big-endian) |
    header JSON (`length` bytes) | crc32 of the JSON (4 bytes) |
    [version 2: the literal dictionary's reference ranges, see dictionary.py] |
    zstd stream of ops [version 2: primed with that dictionary]

The header names both layers by diff_id (sha256 of the uncompressed tar) and sizes, so a
reader learns which reference it needs without decompressing anything. The body is a
single zstd stream (long window) of operations that, run in order, write the target tar:

    END                                         the target is complete
    LITERAL  n, bytes                           n bytes of the target, as they are
    COPY     ref_delta, n, crc32                n bytes of the reference at the offset
    XOR      ref_delta, n, crc32, bytes         n bytes: reference bytes XOR these bytes
    DELTA    ref_delta, ref_n, crc32, n, m, frame  n bytes: zstd `frame` (m bytes) decoded
                                                with reference[offset:offset+ref_n] as its
                                                raw-content dictionary

Numbers are unsigned LEB128 varints; `ref_delta` is the signed (zig-zag) distance from
the end of the previous reference range read, so runs in the same order cost a byte.
Every reference range read carries the crc32 of those reference bytes: a wrong reference
is caught where it is used, before its bytes reach the output. Version 1 has no
dictionary; version 2 adds it (new files compress against their reference neighbours).
Readers read both and refuse versions they do not know (the version byte comes first).
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from lamina.errors import PatchError

MAGIC = b"LMPATCH\n"
VERSION = 2  # what the encoder writes
VERSIONS = (1, 2)  # what the decoder reads
END, LITERAL, COPY, XOR, DELTA = 0, 1, 2, 3, 4
WINDOW_LOG = 27  # the body's zstd window (128 MiB): cross-file matches in new content
MAX_WINDOW = 1 << WINDOW_LOG
DELTA_WINDOW_LOG = 24  # a DELTA frame: a window of data after two windows of dictionary
MAX_PIECE = 64 << 20  # no single DELTA frame or XOR run is larger (else: corrupt)
_MAX_HEADER = 1 << 16
_FIXED = struct.Struct(">8sBI")
WrongReference = Callable[[int, str], PatchError]  # (offset, how) -> the error to raise


@dataclass(frozen=True)
class PatchHeader:
    version: int
    reference_diff_id: str  # "sha256:..." of the reference's uncompressed tar
    target_diff_id: str
    target_size: int  # bytes of the rebuilt uncompressed tar
    reference_size: int = -1  # bytes of the reference tar (-1: not recorded)


def write_header(out: BinaryIO, header: PatchHeader) -> int:
    """Write the plain header; returns its length in bytes."""
    body = json.dumps(
        {
            "reference_diff_id": header.reference_diff_id,
            "target_diff_id": header.target_diff_id,
            "target_size": header.target_size,
            "reference_size": header.reference_size,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    blob = _FIXED.pack(MAGIC, header.version, len(body)) + body
    blob += struct.pack(">I", zlib.crc32(body))
    out.write(blob)
    return len(blob)


def exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            raise PatchError("layer patch is truncated", "send the patch again")
        data += more
    return data


def read_header(stream: BinaryIO) -> PatchHeader:
    """Read and check the plain header; the stream is left just after it."""
    magic, version, length = _FIXED.unpack(exact(stream, _FIXED.size))
    if magic != MAGIC:
        raise PatchError("not a lamina layer patch (bad magic)", "is this the right file?")
    if version not in VERSIONS:
        raise PatchError(
            f"layer patch version {version} is not supported (this lamina reads 1 to {VERSION})",
            "upgrade lamina, or ask the sender for whole layers",
        )
    if length > _MAX_HEADER:
        raise PatchError(f"layer patch header of {length} bytes is corrupt", "send it again")
    body = exact(stream, length)
    (crc,) = struct.unpack(">I", exact(stream, 4))
    if zlib.crc32(body) != crc:
        raise PatchError("layer patch header is corrupt (checksum)", "send the patch again")
    try:
        fields = json.loads(body)
        return PatchHeader(
            version=version,
            reference_diff_id=str(fields["reference_diff_id"]),
            target_diff_id=str(fields["target_diff_id"]),
            target_size=int(fields["target_size"]),
            reference_size=int(fields.get("reference_size", -1)),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise PatchError(f"layer patch header is malformed ({e})", "send it again") from e


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zigzag(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def unzigzag(n: int) -> int:
    return n >> 1 if not n & 1 else -((n + 1) >> 1)


class OpReader:
    """Buffered reads from the decompressed body: bytes, varints, exact runs."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self._buf = b""
        self._pos = 0

    @classmethod
    def body(cls, patch: BinaryIO, dictionary: bytes = b"") -> OpReader:
        """The operations of a patch's zstd stream (primed with `dictionary`)."""
        kind = zstandard.DICT_TYPE_RAWCONTENT
        primed = zstandard.ZstdCompressionDict(dictionary, dict_type=kind) if dictionary else None
        dctx = zstandard.ZstdDecompressor(dict_data=primed, max_window_size=MAX_WINDOW)
        return cls(dctx.stream_reader(patch, read_size=1 << 17, closefd=False))

    @classmethod
    def of_bytes(cls, data: bytes) -> OpReader:
        return cls(io.BytesIO(data))

    def _read(self, n: int) -> bytes:
        try:
            chunk = self._src.read(n)
        except zstandard.ZstdError as e:
            raise PatchError(f"layer patch is corrupt ({e})", "send the patch again") from e
        if not chunk:
            raise PatchError("layer patch is truncated", "send the patch again")
        return chunk

    def _more(self) -> None:
        self._buf = self._buf[self._pos :] + self._read(1 << 18)
        self._pos = 0

    def byte(self) -> int:
        if self._pos >= len(self._buf):
            self._more()
        value = self._buf[self._pos]
        self._pos += 1
        return value

    def number(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise PatchError("layer patch is corrupt (bad number)", "send it again")

    def crc(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def take(self, n: int) -> bytes:
        """Exactly n bytes (n small enough to hold: callers chunk big runs). A long run is
        read in parts joined once, not by growing the buffer chunk after chunk."""
        have = len(self._buf) - self._pos
        if have >= n:
            data = self._buf[self._pos : self._pos + n]
            self._pos += n
            return data
        parts = [self._buf[self._pos :]]
        while have < n:
            parts.append(self._read(max(n - have, 1 << 18)))
            have += len(parts[-1])
        last, extra = parts[-1], have - n
        parts[-1], self._buf, self._pos = last[: len(last) - extra], last, len(last) - extra
        return b"".join(parts)

    def finish(self) -> None:
        """Read to the end of the zstd frame (its checksum is checked there)."""
        while True:
            try:
                chunk = self._src.read(1 << 16)
            except zstandard.ZstdError as e:
                raise PatchError(f"layer patch is corrupt ({e})", "send it again") from e
            if not chunk:
                break
            self._pos, self._buf = 0, b"x"
        if self._pos < len(self._buf):
            raise PatchError("layer patch is corrupt (bytes after its end)", "send it again")
