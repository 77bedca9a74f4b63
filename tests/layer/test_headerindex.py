"""The header index (lamina.layer.headerindex) and the compact tree built on it.

- an index gives back every entry exactly as TarReader read it, through its file too;
- any damage to the file, another layer's digest or another version: refused (None);
- the compact tree squashes every range of random stacks to the same bytes as the
  engine before it (tests/layer/legacy, the oracle), with the indexes read from their
  files or from the tars.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamina.layer.headerindex import MAGIC, HeaderIndex
from lamina.layer.squash import Below, squash_layers
from lamina.layer.tarstream import Member, TarReader
from tests.kit.layers import E, chardev, file, hardlink, layer_bytes, symlink
from tests.layer.legacy import squash as legacy
from tests.layer.stacks import ranges
from tests.layer.test_squash_random import stacks

DIFF_ID = "sha256:" + "ab" * 32


def members(data: bytes) -> list[Member]:
    return list(TarReader(io.BytesIO(data)))


def every_field(more: Sequence[E] = ()) -> bytes:
    """A layer whose entries use every field an index keeps (and `more` entries)."""
    data = layer_bytes(
        [
            file("a/caf\udce9", b"x" * 700, uid=70000, gid=5, mode=0o4755, mtime=1_600_000_000),
            symlink("a/l", "../" + "t" * 200),
            hardlink("a/h", "a/caf\udce9"),
            chardev("dev/null", 1, 3),
            file("b/" + "L" * 130, b"", xattrs={"user.k": b"v"}),
            *more,
        ]
    )
    named = tarfile.TarInfo("owned")
    named.uname, named.gname = "me", "us"
    return data[: members(data)[-1].end_offset] + named.tobuf(tarfile.GNU_FORMAT) + bytes(1024)


def test_every_field_comes_back() -> None:
    data = every_field()
    assert members(data)[-1].uname == "me"
    index = HeaderIndex.of(io.BytesIO(data))
    loaded = HeaderIndex.from_bytes(index.to_bytes(DIFF_ID), DIFF_ID)
    assert loaded is not None and loaded.tar_size == len(data)
    for got in (index, loaded):
        assert [got.member(i) for i in range(len(got))] == members(data)


def test_numbers_beyond_64_bits_are_kept() -> None:
    m = Member("big", uid=1 << 70, mtime=-(1 << 65), header_offset=0, data_offset=512)
    index = HeaderIndex.collect([m, Member("small", header_offset=512, data_offset=1024)])
    loaded = HeaderIndex.from_bytes(index.to_bytes(DIFF_ID), DIFF_ID)
    assert loaded is not None
    assert loaded.member(0).uid == 1 << 70 and loaded.member(0).mtime == -(1 << 65)
    assert loaded.member(1).uid == 0 and loaded.member(1).name == "small"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_damage_is_refused(data: st.DataObject) -> None:
    layer = layer_bytes([file("a", b"1"), symlink("b", "a"), file("c/d", b"22")])
    good = HeaderIndex.of(io.BytesIO(layer)).to_bytes(DIFF_ID)
    at = data.draw(st.integers(0, len(good) - 1))
    flipped = bytearray(good)
    flipped[at] ^= data.draw(st.integers(1, 255))
    assert HeaderIndex.from_bytes(bytes(flipped), DIFF_ID) is None
    assert HeaderIndex.from_bytes(good[: data.draw(st.integers(0, len(good) - 1))], DIFF_ID) is None


def test_another_layer_or_version_is_refused() -> None:
    good = HeaderIndex.of(io.BytesIO(layer_bytes([file("a", b"1")]))).to_bytes(DIFF_ID)
    assert HeaderIndex.from_bytes(good, DIFF_ID) is not None
    assert HeaderIndex.from_bytes(good, "sha256:" + "cd" * 32) is None
    bumped = bytearray(good[:-32])
    struct.pack_into("<I", bumped, len(MAGIC), 2)  # a future version, checksum made right
    assert HeaderIndex.from_bytes(bytes(bumped) + hashlib.sha256(bumped).digest(), DIFF_ID) is None


def _squash(new: bool, layers: list[bytes], lo: int, hi: int, from_files: bool) -> bytes:
    streams = [io.BytesIO(b) for b in layers]
    out = io.BytesIO()
    if not new:
        below = legacy.Below.layers(streams[:lo]) if lo else legacy.Below.nothing()
        legacy.squash_layers(streams[lo:hi], out, below=below)
        return out.getvalue()

    def index_of(offset: int):  # type: ignore[no-untyped-def]
        def of(i: int, stream: io.BytesIO) -> HeaderIndex:
            index = HeaderIndex.of(stream)
            again = HeaderIndex.from_bytes(index.to_bytes(DIFF_ID), DIFF_ID)
            assert again is not None
            return again

        return of if from_files else None

    under = Below.layers(streams[:lo], index_of(0)) if lo else Below.nothing()
    squash_layers(streams[lo:hi], out, below=under, index_of=index_of(lo))
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks(), st.booleans())
def test_compact_tree_squashes_to_the_same_bytes_as_before(
    stack: list[list[E]], from_files: bool
) -> None:
    layers = [layer_bytes(entries) for entries in stack]
    for lo, hi in ranges(len(layers)):
        try:
            before = _squash(False, layers, lo, hi, from_files)
        except Exception as exc:  # the same refusal, in the same words
            with pytest.raises(type(exc), match=str(exc)[:40].replace("(", ".").replace(")", ".")):
                _squash(True, layers, lo, hi, from_files)
            continue
        assert _squash(True, layers, lo, hi, from_files) == before, (lo, hi)
