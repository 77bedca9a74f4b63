"""A patch's decoder reads each reference byte a DELTA needs once, not once per window.

A big file changed all along is a DELTA per 4 MiB window, each against the reference
bytes around it (two windows of them): consecutive dictionaries overlap by half, and the
decoder copies the overlap from the previous one instead of reading it again. The
reference is counted as it is read; the result must still be exact, and a reference that
differs inside an overlap must still be refused. A DELTA whose frame makes more or fewer
bytes than it says is refused too (its output lands in a buffer the decoder reuses).
"""

from __future__ import annotations

import hashlib
import io
import random
import zlib
from collections.abc import Callable
from typing import BinaryIO

import pytest
import zstandard

from lamina.errors import PatchError, PatchReferenceError
from lamina.layer.patch import apply_patch, encode_patch
from lamina.layer.patch import format as fmt
from tests.kit.layers import file, layer_bytes

MB = 1 << 20
Buffer = bytearray | memoryview


class _Counted(io.BytesIO):
    """A reference that counts the bytes read from it."""

    def __init__(self, data: bytes, seen: list[int]) -> None:
        super().__init__(data)
        self.seen = seen

    def read(self, n: int | None = -1) -> bytes:
        data = super().read(n)
        self.seen[0] += len(data)
        return data

    def readinto(self, buffer: Buffer) -> int:  # type: ignore[override]
        n = super().readinto(buffer)
        self.seen[0] += n
        return n


def _layers() -> tuple[bytes, bytes, int]:
    """Old and new layer, and where the file's data starts in the old one."""
    rng = random.Random(7)
    big = rng.randbytes(17 * MB)
    edited = bytearray(big)
    for at in range(MB // 2, len(big), MB):  # every window changes: all of it is DELTA
        edited[at : at + 4] = b"EDIT"
    old = layer_bytes([file("big", big)])
    return old, layer_bytes([file("big", bytes(edited))]), old.index(big[:4096])


def _rebuild(old: bytes, patch: bytes) -> tuple[bytes, int]:
    seen = [0]
    opener: Callable[[], BinaryIO] = lambda: _Counted(old, seen)  # type: ignore[assignment,return-value]  # noqa: E731
    out = io.BytesIO()
    apply_patch(opener, io.BytesIO(patch), out)
    return out.getvalue(), seen[0]


def test_consecutive_deltas_read_their_shared_dictionary_bytes_once() -> None:
    old, new, _ = _layers()
    patch = io.BytesIO()
    stats = encode_patch(lambda: io.BytesIO(old), lambda: io.BytesIO(new), patch, level=3)
    assert stats.delta_bytes >= 16 * MB and stats.operations >= 5
    got, read = _rebuild(old, patch.getvalue())
    assert hashlib.sha256(got).digest() == hashlib.sha256(new).digest()
    # five windows, dictionaries of 6, 8, 8, 8 and 3 MiB: 33 MiB when each is read whole;
    # the overlaps read once make it about the file's 17 MiB
    assert read < 20 * MB, read / MB


@pytest.mark.parametrize("where", [1 * MB, 9 * MB, 16 * MB])
def test_a_damaged_reference_is_still_refused(where: int) -> None:
    old, new, data = _layers()
    patch = io.BytesIO()
    encode_patch(lambda: io.BytesIO(old), lambda: io.BytesIO(new), patch, level=3)
    at = data + where  # 9 MiB: in two windows' dictionaries; 16 MiB: only the last's
    damaged = old[:at] + bytes([old[at] ^ 1]) + old[at + 1 :]
    with pytest.raises(PatchReferenceError, match="differs from the one it was made against"):
        _rebuild(damaged, patch.getvalue())


def _one_delta_patch(ref: bytes, made: bytes, claimed: int) -> bytes:
    """A version 1 patch of one DELTA against all of `ref` that says it rebuilds `claimed`
    bytes, with a frame that makes `made` (the header's size matches the claim)."""
    kind = zstandard.DICT_TYPE_RAWCONTENT
    cctx = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(ref, dict_type=kind))
    frame = cctx.compress(made)
    op = bytes([fmt.DELTA]) + fmt.varint(0) + fmt.varint(len(ref))
    op += zlib.crc32(ref).to_bytes(4, "big") + fmt.varint(claimed) + fmt.varint(len(frame))
    out = io.BytesIO()
    digest = "sha256:" + hashlib.sha256(made[:claimed]).hexdigest()
    ref_id = "sha256:" + hashlib.sha256(ref).hexdigest()
    fmt.write_header(out, fmt.PatchHeader(1, ref_id, digest, claimed, len(ref)))
    out.write(zstandard.ZstdCompressor().compress(op + frame + bytes([fmt.END])))
    return out.getvalue()


@pytest.mark.parametrize("claimed", [999, 1001, 5000])
def test_a_delta_that_rebuilds_another_size_is_refused(claimed: int) -> None:
    ref = random.Random(8).randbytes(3000)
    made = ref[1000:2000]
    assert _rebuild(ref, _one_delta_patch(ref, made, len(made)))[0] == made  # the control
    with pytest.raises(PatchError, match="a delta rebuilds the wrong size"):
        _rebuild(ref, _one_delta_patch(ref, made, claimed))
