"""Layer compression: sniff what a stream is, open it decompressed, compress on demand.

Read: gzip, zstd, and (as Docker's DecompressStream) xz and bzip2. Written: gzip, zstd.
Streams only: nothing here reads a layer whole into memory.
"""

from __future__ import annotations

import bz2
import io
import lzma
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

import zstandard
from isal import igzip, isal_zlib

from lamina import digest
from lamina.errors import InvalidInputError

# what a damaged or truncated compressed stream raises while it is read
DECOMPRESSION_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    cast(type[Exception], isal_zlib.IsalError),  # typed as an instance in its stub
    zstandard.ZstdError,
    lzma.LZMAError,
)


def damaged(exc: BaseException) -> bool:
    """Was a DECOMPRESSION_ERRORS error the data's fault? An OSError with an errno
    (ENOSPC, EIO, ...) is the system's: it must not be reported as a corrupt input."""
    return not (isinstance(exc, OSError) and exc.errno is not None)


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"
_ZSTD_SKIPPABLE = range(0x184D2A50, 0x184D2A60)


def sniff(head: bytes) -> str:
    """Compression of a blob from its first bytes: "gzip", "zstd", "xz", "bzip2" or ""."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(BZIP2_MAGIC) and len(head) > 3 and head[3:4] in b"123456789":
        return "bzip2"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 4 and int.from_bytes(head[:4], "little") in _ZSTD_SKIPPABLE:
        return "zstd"
    return ""


class _Peeked(io.RawIOBase):
    """A stream with some bytes already read from its front put back."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return digest.read_into(self._rest, buffer)  # no fresh bytes per read


def peek(stream: BinaryIO, n: int = 8) -> tuple[bytes, BinaryIO]:
    """Read the first `n` bytes and return them with a stream that still starts at byte 0."""
    head = stream.read(n)
    return head, cast(BinaryIO, io.BufferedReader(_Peeked(head, stream), 1 << 20))


def decompressed(stream: BinaryIO, compression: str) -> BinaryIO:
    """A readable stream of the uncompressed bytes."""
    if compression == "":
        return stream
    if compression == "gzip":
        gz = igzip.IGzipFile(fileobj=stream, mode="rb")  # type: ignore[no-untyped-call]
        return cast(BinaryIO, gz)
    if compression == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        return cast(BinaryIO, io.BufferedReader(reader, 1 << 20))
    if compression == "xz":
        return cast(BinaryIO, lzma.LZMAFile(stream, "rb"))
    if compression == "bzip2":
        return cast(BinaryIO, bz2.BZ2File(stream, "rb"))
    raise InvalidInputError(f"unknown compression {compression!r}", "use gzip, zstd or none")


def auto_decompressed(stream: BinaryIO) -> tuple[str, BinaryIO]:
    """Sniff the compression and return (compression, uncompressed stream)."""
    head, whole = peek(stream)
    kind = sniff(head)
    return kind, decompressed(whole, kind)


@contextmanager
def compressor(sink: BinaryIO, compression: str, level: int | None = None) -> Iterator[BinaryIO]:
    """A writable stream that compresses into `sink`; closing it flushes the compressor."""
    if compression == "gzip":
        # mtime=0 and no file name: the same layer always compresses to the same bytes
        gz = igzip.IGzipFile(  # type: ignore[no-untyped-call]
            fileobj=sink, mode="wb", compresslevel=1 if level is None else level, mtime=0
        )
        try:
            yield cast(BinaryIO, gz)
        finally:
            gz.close()
    elif compression == "zstd":
        cctx = zstandard.ZstdCompressor(level=3 if level is None else level, threads=-1)
        writer = cctx.stream_writer(sink, closefd=False)
        try:
            yield cast(BinaryIO, writer)
        finally:
            writer.flush(zstandard.FLUSH_FRAME)
            writer.close()  # type: ignore[no-untyped-call]
    elif compression == "":
        yield sink
    else:
        raise InvalidInputError(f"unknown compression {compression!r}", "use gzip, zstd or none")
