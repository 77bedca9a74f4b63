"""The literal dictionary (format version 2): reference bytes that new files resemble.

New files have no old version to be diffed against, but they look like their neighbours:
a new module like the modules beside it, a new shared library like the libraries in its
directory. Version 2 primes the body's zstd stream with a raw-content dictionary made of
reference ranges around where each new file would sort among the reference's paths, so
the literals compress against them (what `zstd --patch-from` gets from the whole
reference, within a bounded budget).

The ranges travel right after the header: a 4-byte length, then a zstd frame of varints
(count, then per range: zig-zag distance from the previous range's end, size, crc32 of
the reference bytes). The decoder reads them from the reference, checking each crc.
"""

from __future__ import annotations

import bisect
import struct
import zlib
from collections.abc import Iterable
from typing import BinaryIO

import zstandard

from lamina.errors import InvalidInputError, PatchError
from lamina.layer.patch import format as fmt
from lamina.layer.patch.index import ReferenceIndex
from lamina.layer.patch.scan import Opener, RandomAccess
from lamina.layer.tarstream import TarReader

BUDGET = 32 << 20  # bytes of dictionary at most (the decoder holds them while it runs)
_MIN_REACH, _MAX_REACH = 2 << 20, 8 << 20

Range = tuple[int, int]  # offset, size in the reference


def plan(index: ReferenceIndex, target: Opener, budget: int = BUDGET) -> list[Range]:
    """Reference ranges around the neighbours of the target's new files (largest files
    first, within `budget`), merged and in reference order."""
    names = sorted(index.files)
    wanted: list[tuple[int, int, int]] = []  # size, lo, hi
    for name, size in _new_files(index, target):
        at = bisect.bisect_left(names, name)
        neighbour = index.files[names[min(at, len(names) - 1)]]
        reach = min(max(8 * size, _MIN_REACH), _MAX_REACH)
        lo = max(0, neighbour.header_offset - reach)
        wanted.append((size, lo, min(index.size, neighbour.header_offset + reach)))
    chosen: list[Range] = []
    for _, lo, hi in sorted(wanted, reverse=True):
        if budget <= 0:
            break
        hi = min(hi, lo + budget)
        chosen.append((lo, hi - lo))
        budget -= hi - lo
    return _merge(chosen)


def _new_files(index: ReferenceIndex, target: Opener) -> Iterable[tuple[str, int]]:
    if not index.files:
        return
    with target() as stream:
        try:
            for member in TarReader(stream, what="layer"):
                if member.data_size and index.source(member.name) is None:
                    yield member.name, member.data_size
        except InvalidInputError:
            return


def _merge(ranges: list[Range]) -> list[Range]:
    out: list[Range] = []
    for lo, size in sorted(ranges):
        if out and lo <= out[-1][0] + out[-1][1]:
            end = max(out[-1][0] + out[-1][1], lo + size)
            out[-1] = (out[-1][0], end - out[-1][0])
        else:
            out.append((lo, size))
    return out


def write_ranges(out: BinaryIO, ranges: list[Range], ref: RandomAccess) -> bytes:
    """Write the ranges section; returns the dictionary bytes."""
    parts, entries, last = [], [fmt.varint(len(ranges))], 0
    for lo, size in ranges:
        data = ref.read(lo, size)
        parts.append(data)
        crc = zlib.crc32(data).to_bytes(4, "big")
        entries.append(fmt.varint(fmt.zigzag(lo - last)) + fmt.varint(size) + crc)
        last = lo + size
    frame = zstandard.ZstdCompressor(level=19).compress(b"".join(entries))
    out.write(struct.pack(">I", len(frame)) + frame)
    return b"".join(parts)


def read_ranges(patch: BinaryIO, ref: RandomAccess, wrong: fmt.WrongReference) -> bytes:
    """Read the ranges section and return the dictionary bytes, checked."""
    (length,) = struct.unpack(">I", fmt.exact(patch, 4))
    if length > fmt.MAX_PIECE:
        raise PatchError("layer patch is corrupt (its dictionary list)", "send it again")
    try:
        raw = zstandard.ZstdDecompressor().decompress(
            fmt.exact(patch, length), max_output_size=fmt.MAX_PIECE
        )
    except zstandard.ZstdError as e:
        raise PatchError(f"layer patch is corrupt ({e})", "send the patch again") from e
    ops = fmt.OpReader.of_bytes(raw)
    parts, last, total = [], 0, 0
    for _ in range(ops.number()):
        lo, size = last + fmt.unzigzag(ops.number()), ops.number()
        total += size
        if total > fmt.MAX_PIECE:
            raise PatchError("layer patch is corrupt (its dictionary list)", "send it again")
        if lo < 0 or lo + size > ref.size:
            raise wrong(lo, "is shorter than the patch expects")
        data = ref.read(lo, size)
        if zlib.crc32(data) != ops.crc():
            raise wrong(lo, "differs from the one it was made against")
        parts.append(data)
        last = lo + size
    return b"".join(parts)
