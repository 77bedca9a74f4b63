"""Make a patch that rebuilds the target layer tar from the reference, byte for byte.

Three passes, each streaming: index the reference (`index.py`), hash the target (its
diff_id goes in the header, in front), then walk the target piece by piece (`scan.py`):

- a piece whose bytes the reference holds anywhere (an unchanged file's headers and data,
  a renamed file, the end-of-archive blocks) is a COPY; neighbouring copies merge, so a
  run of unchanged files costs one operation;
- the headers of an entry whose path the reference has, at the same length, are an XOR
  against the old headers (mostly zeros: a new mtime, size, checksum);
- a changed data window is a DELTA: zstd with the old file's bytes around the same
  offset as a raw-content dictionary (at most two windows of it), when that beats
  compressing the window alone;
- the rest is LITERAL, compressed with everything else in the one zstd stream.

Memory: the reference index (per entry, not per byte), one window of the target and one
dictionary of the reference at a time, and the zstd stream's window.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from lamina.digest import Hasher
from lamina.layer.patch import format as fmt
from lamina.layer.patch.dictionary import BUDGET, plan, write_ranges
from lamina.layer.patch.index import ReferenceIndex, build_index
from lamina.layer.patch.scan import (
    DATA,
    GAP,
    HEADER,
    WINDOW,
    Opener,
    Piece,
    RandomAccess,
    pieces,
    random_access,
)
from lamina.progress import Progress

_MIN_DELTA = 64  # smaller changed pieces go literal: a frame costs more than it saves
_LITERAL_FLUSH = 1 << 20


@dataclass(frozen=True)
class PatchStats:
    header: fmt.PatchHeader
    patch_size: int  # bytes of the patch, header included
    reused_bytes: int  # bytes of the target copied from the reference as they are
    xor_bytes: int  # bytes of the target rebuilt by XOR with reference headers
    delta_bytes: int  # bytes of the target rebuilt from deltas against old files
    literal_bytes: int  # bytes of the target carried in the patch (compressed)
    operations: int
    dictionary_bytes: int = 0  # reference bytes the literals were compressed against


class _Counter:
    def __init__(self, out: BinaryIO) -> None:
        self.out, self.count = out, 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.count += len(data)
        return len(data)


class _OpWriter:
    """Writes operations into the zstd stream; merges adjacent copies and literals."""

    def __init__(self, out: _Counter, level: int, threads: int, primed: bytes) -> None:
        params = zstandard.ZstdCompressionParameters.from_level(
            level,
            window_log=fmt.WINDOW_LOG,
            enable_ldm=True,
            write_checksum=False,  # END is the last byte: a cut patch never reaches it
            threads=threads,
        )
        kind = zstandard.DICT_TYPE_RAWCONTENT
        dictionary = zstandard.ZstdCompressionDict(primed, dict_type=kind) if primed else None
        cctx = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params)
        self._z = cctx.stream_writer(out, closefd=False)  # type: ignore[arg-type]
        self._last = 0  # end of the last reference range read
        self._copy: list[int] = []  # pending copy: [offset, size, crc]
        self._literal: list[bytes] = []
        self._literal_size = 0
        self.counts = {"copy": 0, "xor": 0, "delta": 0, "literal": 0, "ops": 0}

    def _ref(self, offset: int) -> bytes:
        return fmt.varint(fmt.zigzag(offset - self._last))

    def _op(self, data: bytes) -> None:
        self._z.write(data)
        self.counts["ops"] += 1

    def _flush(self) -> None:
        if self._copy:
            offset, size, crc = self._copy
            self._op(bytes([fmt.COPY]) + self._ref(offset) + fmt.varint(size) + _u32(crc))
            self._last = offset + size
            self._copy = []
        if self._literal:
            data = b"".join(self._literal)
            self._op(bytes([fmt.LITERAL]) + fmt.varint(len(data)))
            self._z.write(data)
            self._literal, self._literal_size = [], 0

    def copy(self, offset: int, data: bytes) -> None:
        self.counts["copy"] += len(data)
        if self._copy and self._copy[0] + self._copy[1] == offset:
            self._copy[1] += len(data)
            self._copy[2] = zlib.crc32(data, self._copy[2])
            return
        self._flush()
        self._copy = [offset, len(data), zlib.crc32(data)]

    def literal(self, data: bytes) -> None:
        self.counts["literal"] += len(data)
        if self._copy:
            self._flush()
        self._literal.append(data)
        self._literal_size += len(data)
        if self._literal_size >= _LITERAL_FLUSH:
            self._flush()

    def xor(self, offset: int, old: bytes, new: bytes) -> None:
        self._flush()
        self.counts["xor"] += len(new)
        mask = int.from_bytes(old, "big") ^ int.from_bytes(new, "big")
        head = bytes([fmt.XOR]) + self._ref(offset) + fmt.varint(len(new))
        self._op(head + _u32(zlib.crc32(old)) + mask.to_bytes(len(new), "big"))
        self._last = offset + len(old)

    def delta(self, offset: int, old: bytes, frame: bytes, size: int) -> None:
        self._flush()
        self.counts["delta"] += size
        head = bytes([fmt.DELTA]) + self._ref(offset) + fmt.varint(len(old))
        head += _u32(zlib.crc32(old)) + fmt.varint(size) + fmt.varint(len(frame))
        self._op(head + frame)
        self._last = offset + len(old)

    def end(self) -> None:
        self._flush()
        self._op(bytes([fmt.END]))
        self._z.close()  # type: ignore[no-untyped-call]  # ends the frame; `out` stays open


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def encode_patch(
    reference: Opener,
    target: Opener,
    out: BinaryIO,
    *,
    progress: Progress | None = None,
    level: int = 19,
    threads: int = 0,
    dictionary: int = BUDGET,
) -> PatchStats:
    """Write a patch that turns `reference` into `target` (both uncompressed layer tars;
    each opener is called more than once; a seekable reference saves a spool).
    `dictionary`: bytes of reference the new files may compress against (0: a version 1
    patch, without one)."""
    progress = progress or Progress.null()
    task = progress.task("Indexing the reference layer", None)
    index = build_index(reference, task)
    task.done()
    hasher = Hasher()
    with target() as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    version = fmt.VERSION if dictionary > 0 else 1
    header = fmt.PatchHeader(version, index.diff_id, hasher.digest, hasher.size, index.size)
    counter = _Counter(out)
    fmt.write_header(counter, header)  # type: ignore[arg-type]
    with random_access(reference) as ref:
        primed = b""
        if version >= 2:
            ranges = plan(index, target, dictionary)
            primed = write_ranges(counter, ranges, ref)  # type: ignore[arg-type]
        writer = _OpWriter(counter, level, threads, primed)
        task = progress.task("Encoding the layer patch", header.target_size)
        for piece in pieces(target):
            _encode(piece, index, ref, writer, level)
            task.advance(len(piece.data))
    writer.end()
    task.done()
    c = writer.counts
    return PatchStats(
        header,
        counter.count,
        c["copy"],
        c["xor"],
        c["delta"],
        c["literal"],
        c["ops"],
        len(primed),
    )


def _encode(
    piece: Piece, index: ReferenceIndex, ref: RandomAccess, w: _OpWriter, level: int
) -> None:
    offset = index.pieces.get(piece.key)
    if offset is not None and ref.read(offset, len(piece.data)) == piece.data:
        w.copy(offset, piece.data)
        return
    source = index.source(piece.name) if piece.kind != GAP else None
    if source is not None and piece.kind == HEADER and source.header_size == len(piece.data):
        w.xor(source.header_offset, ref.read(source.header_offset, len(piece.data)), piece.data)
        return
    if (
        source is not None
        and piece.kind == DATA
        and source.data_size
        and (len(piece.data) >= _MIN_DELTA)
    ):
        lo = max(0, piece.within - WINDOW // 2)
        hi = min(source.data_size, piece.within + len(piece.data) + WINDOW // 2)
        if hi > lo and _try_delta(piece.data, source.data_offset + lo, hi - lo, ref, w, level):
            return
    w.literal(piece.data)


def _try_delta(
    data: bytes, offset: int, size: int, ref: RandomAccess, w: _OpWriter, level: int
) -> bool:
    old = ref.read(offset, size)
    dictionary = zstandard.ZstdCompressionDict(old, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    params = _delta_params(level, len(old) + len(data))
    frame = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params).compress(data)
    alone = len(zstandard.ZstdCompressor(level=3).compress(data))
    if len(frame) * 10 >= alone * 9:
        return False
    w.delta(offset, old, frame, len(data))
    return True


def _delta_params(level: int, span: int) -> zstandard.ZstdCompressionParameters:
    """The level's parameters, with match tables big enough to index the dictionary
    (a fast level's small tables forget most of a large one)."""
    base = zstandard.ZstdCompressionParameters.from_level(level, source_size=span)
    bits = min(max(span.bit_length(), 10), 22)
    return zstandard.ZstdCompressionParameters.from_level(
        level,
        source_size=span,
        window_log=fmt.DELTA_WINDOW_LOG,
        hash_log=max(base.hash_log, bits),
        chain_log=max(base.chain_log, bits),
        write_checksum=False,
    )
