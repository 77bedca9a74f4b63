"""Rebuild a target layer tar from its reference and a patch, in one pass over the patch.

The operations (`format.py`) are run in order; reference ranges are read at random
(the reference must be seekable, or is spooled to a temporary file first). Everything
written is hashed: the result must have the size and diff_id the header names.

Nothing wrong is ever returned silently: every reference range carries the crc32 it had
when the patch was made (a different reference fails where it differs, naming the layer
the patch needs), the zstd stream carries its own checksum (a damaged patch fails), and
the diff_id of the result is checked at the end. The output may hold bytes when an error
is raised: callers write to a temporary file and drop it on failure.

Speed: reference bytes are read into buffers the decoder keeps (no allocation per range),
and a DELTA's dictionary that overlaps the previous one (consecutive windows of a changed
file: the second half of one is the first half of the next) reuses the bytes already read
instead of reading them again; a DELTA's frame is decoded in one pass into a buffer that
is reused too. Memory: two dictionaries and one DELTA output at most (each bounded by the
largest in the patch, itself at most `MAX_PIECE`) and one chunk for copies.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import BinaryIO

import zstandard

from lamina.digest import Hasher, short
from lamina.errors import PatchError, PatchReferenceError
from lamina.layer.patch import format as fmt
from lamina.layer.patch.dictionary import read_ranges
from lamina.layer.patch.scan import Opener, RandomAccess, random_access
from lamina.progress import Progress, Task

_CHUNK = 1 << 20


class _Rebuild:
    def __init__(
        self, header: fmt.PatchHeader, ref: RandomAccess, out: BinaryIO, task: Task
    ) -> None:
        self.header, self.ref, self.out, self.task = header, ref, out, task
        self.hasher = Hasher()
        self.last = 0
        self.chunk = memoryview(bytearray(_CHUNK))  # COPY reads land here
        self.dictionary = _Dictionary(ref)
        self.decoded = bytearray()  # a DELTA's output lands here

    def scratch(self, size: int) -> memoryview:
        """The DELTA output buffer, at least `size` bytes (it grows, never shrinks)."""
        if len(self.decoded) < size:
            self.decoded = bytearray(size)
        return memoryview(self.decoded)[:size]

    def emit(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.hasher.update(data)
        self.task.advance(len(data))
        if self.hasher.size > self.header.target_size:
            raise PatchError("layer patch is corrupt: it rebuilds more bytes than it names")

    def where(self, ops: fmt.OpReader) -> tuple[int, int]:
        offset = self.last + fmt.unzigzag(ops.number())
        size = ops.number()
        if offset < 0 or offset + size > self.ref.size:
            raise self.wrong(offset, "is shorter than the patch expects")
        self.last = offset + size
        return offset, size

    def wrong(self, offset: int, how: str) -> PatchReferenceError:
        need = short(self.header.reference_diff_id, algorithm=True)
        return PatchReferenceError(
            f"the reference layer given to this patch {how} (at byte {offset}): "
            f"the patch needs layer {need}",
            "rebuild it where that layer is held, or ask the sender for the whole layer",
        )

    def reference(self, offset: int, size: int, crc: int) -> bytes:
        """A small reference range, checked whole before use."""
        if size > fmt.MAX_PIECE:
            raise PatchError("layer patch is corrupt (an operation is too large)")
        data = self.ref.read(offset, size)
        if zlib.crc32(data) != crc:
            raise self.wrong(offset, "differs from the one it was made against")
        return data

    def copy(self, offset: int, size: int, crc: int) -> None:
        seen, at = 0, offset
        while at < offset + size:
            n = self.ref.readinto(at, self.chunk[: min(_CHUNK, offset + size - at)])
            if not n:
                break
            seen = zlib.crc32(self.chunk[:n], seen)
            self.emit(self.chunk[:n])
            at += n
        if seen != crc:
            raise self.wrong(offset, "differs from the one it was made against")


def apply_patch(
    reference: Opener,
    patch: BinaryIO,
    out: BinaryIO,
    *,
    progress: Progress | None = None,
    header: fmt.PatchHeader | None = None,
) -> fmt.PatchHeader:
    """Write the target layer tar `patch` rebuilds from `reference` to `out`; returns the
    patch's header. `patch` is read from its start, or from just after its header when
    the caller read that already (`header=read_patch_header(patch)`). Raises
    `PatchReferenceError` for a wrong reference and `PatchError` for a truncated or
    damaged patch (exit code 5 both)."""
    header = header or fmt.read_header(patch)
    task = (progress or Progress.null()).task(
        f"Rebuilding layer {short(header.target_diff_id)}", header.target_size
    )
    with random_access(reference) as ref:
        run = _Rebuild(header, ref, out, task)
        if header.reference_size >= 0 and ref.size != header.reference_size:
            raise run.wrong(ref.size, f"has {ref.size} bytes, not {header.reference_size},")
        primed = read_ranges(patch, ref, run.wrong) if header.version >= 2 else b""
        ops = fmt.OpReader.body(patch, primed)
        while (code := ops.byte()) != fmt.END:
            _OPS.get(code, _unknown)(run, ops)
        ops.finish()
    _verify(run)
    task.done()
    return header


def _literal(run: _Rebuild, ops: fmt.OpReader) -> None:
    left = ops.number()
    while left > 0:
        data = ops.take(min(left, _CHUNK))
        run.emit(data)
        left -= len(data)


def _copy(run: _Rebuild, ops: fmt.OpReader) -> None:
    offset, size = run.where(ops)
    run.copy(offset, size, ops.crc())


def _xor(run: _Rebuild, ops: fmt.OpReader) -> None:
    offset, size = run.where(ops)
    old = run.reference(offset, size, ops.crc())
    mask = int.from_bytes(ops.take(size), "big")
    run.emit((int.from_bytes(old, "big") ^ mask).to_bytes(size, "big"))


def _delta(run: _Rebuild, ops: fmt.OpReader) -> None:
    offset, size = run.where(ops)
    if size > fmt.MAX_PIECE:
        raise PatchError("layer patch is corrupt (an operation is too large)")
    old = run.dictionary.load(offset, size)
    if zlib.crc32(old) != ops.crc():
        raise run.wrong(offset, "differs from the one it was made against")
    target, length = ops.number(), ops.number()
    if length > fmt.MAX_PIECE or target > fmt.MAX_PIECE:
        raise PatchError("layer patch is corrupt (an operation is too large)")
    frame = ops.take(length)
    dictionary = zstandard.ZstdCompressionDict(old, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    dctx = zstandard.ZstdDecompressor(dict_data=dictionary, max_window_size=fmt.MAX_WINDOW)
    into, n = run.scratch(target + 1), 0  # one byte more: a frame that makes more is caught
    try:  # the whole frame is there and fits: zstd decodes it in one pass, into `into`
        with dctx.stream_reader(frame) as reader:
            while n < len(into) and (got := reader.readinto(into[n:])):
                n += got
    except zstandard.ZstdError as e:
        raise PatchError(f"layer patch is corrupt ({e})", "send the patch again") from e
    if n != target:
        raise PatchError("layer patch is corrupt (a delta rebuilds the wrong size)")
    run.emit(into[:n])


class _Dictionary:
    """The reference range of the last DELTA, kept to serve the next one: the part of a new
    range the old one holds is copied over, only the rest is read. Two buffers take
    turns (the old range is the source of the copy); they grow to the largest range."""

    def __init__(self, ref: RandomAccess) -> None:
        self.ref = ref
        self.buffers = [bytearray(), bytearray()]
        self.offset = self.size = 0  # what buffers[0] holds

    def load(self, offset: int, size: int) -> memoryview:
        """Reference bytes [offset, offset+size), which `where` checked are in the layer."""
        if len(self.buffers[1]) < size:
            self.buffers[1] = bytearray(size)
        old, new = self.buffers
        into = memoryview(new)
        start, end = max(offset, self.offset), min(offset + size, self.offset + self.size)
        if start < end and start == offset:  # the new range starts inside the old one
            into[: end - start] = memoryview(old)[start - self.offset : end - self.offset]
        else:
            end = offset
        if end < offset + size:  # a short read (the layer shrank) leaves a short range
            size = end - offset + self.ref.readinto(end, into[end - offset : size])
        self.buffers.reverse()
        self.offset, self.size = offset, size
        return into[:size]


def _unknown(run: _Rebuild, ops: fmt.OpReader) -> None:
    raise PatchError("layer patch is corrupt (unknown operation)", "send the patch again")


_OPS: dict[int, Callable[[_Rebuild, fmt.OpReader], None]] = {
    fmt.LITERAL: _literal,
    fmt.COPY: _copy,
    fmt.XOR: _xor,
    fmt.DELTA: _delta,
}


def _verify(run: _Rebuild) -> None:
    header, got = run.header, run.hasher
    if got.size != header.target_size or got.digest != header.target_diff_id:
        raise PatchError(
            f"layer patch rebuilt {got.size} bytes with diff_id {short(got.digest, algorithm=True)}"
            f", not {short(header.target_diff_id, algorithm=True)}",
            "the patch or its reference is damaged: ask the sender for the whole layer",
        )
