"""Layer patches rebuild the target tar byte for byte, and refuse what they cannot rebuild.

Round trips are checked by sha256 of the whole tar (the diff_id), on random old/new layer
pairs (hypothesis) and on the cases that matter one by one; a damaged patch and a wrong
reference fail with one line (exit code 5) and never return wrong bytes.
"""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
from collections.abc import Callable
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.errors import PatchError, PatchReferenceError
from lamina.layer.patch import (
    PatchStats,
    apply_patch,
    encode_patch,
    read_patch_header,
)
from lamina.progress import Progress
from tests.kit.layers import E, dir_, file, hardlink, layer_bytes, symlink
from tests.kit.random import random_entries
from tests.layer.stacks import Pipe


def opener(data: bytes, pipe: bool = False) -> Callable[[], BinaryIO]:
    return lambda: Pipe(data) if pipe else io.BytesIO(data)  # type: ignore[return-value]


def make(old: bytes, new: bytes, pipe: bool = False) -> tuple[bytes, PatchStats]:
    out = io.BytesIO()
    stats = encode_patch(opener(old, pipe), opener(new, pipe), out, level=3)
    return out.getvalue(), stats


def rebuild(old: bytes, patch: bytes, pipe: bool = False) -> bytes:
    out = io.BytesIO()
    apply_patch(opener(old, pipe), io.BytesIO(patch), out)
    return out.getvalue()


def roundtrip(old: bytes, new: bytes, pipe: bool = False) -> PatchStats:
    patch, stats = make(old, new, pipe)
    got = rebuild(old, patch, pipe)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(new).hexdigest()
    assert got == new
    assert stats.header.target_diff_id == "sha256:" + hashlib.sha256(new).hexdigest()
    assert stats.header.reference_diff_id == "sha256:" + hashlib.sha256(old).hexdigest()
    assert stats.header.target_size == len(new) and stats.patch_size == len(patch)
    parts = stats.reused_bytes + stats.xor_bytes + stats.delta_bytes + stats.literal_bytes
    assert parts == len(new)
    return stats


def mutate(rng: random.Random, entries: list[E]) -> list[E]:
    """A plausible update: edits, appends, removals, renames, additions, new mtimes."""
    out: list[E] = []
    for e in entries:
        roll = rng.random()
        if roll < 0.1:
            continue  # removed
        if e.kind == "f" and roll < 0.3 and e.data:
            at = rng.randrange(len(e.data))
            e = E("f", e.name, e.data[:at] + rng.randbytes(rng.randrange(1, 40)) + e.data[at:])
        elif roll < 0.4:
            e = E(e.kind, e.name + ".moved", e.data, e.mode, link=e.link)
        elif roll < 0.5:
            e = E(e.kind, e.name, e.data, e.mode, mtime=e.mtime + 1, link=e.link)
        out.append(e)
    if rng.random() < 0.5:
        out += random_entries(rng, rng.randrange(1, 6), [], False)
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 30), st.sampled_from(["pax", "gnu", "ustar"]))
def test_random_updates_rebuild_exactly(seed: int, count: int, kind: str) -> None:
    rng = random.Random(seed)
    fmt = {"pax": tarfile.PAX_FORMAT, "gnu": tarfile.GNU_FORMAT, "ustar": tarfile.USTAR_FORMAT}
    old_entries = random_entries(rng, count, [], False)
    new_entries = mutate(rng, old_entries)
    old = layer_bytes(old_entries, fmt[kind])
    try:
        new = layer_bytes(new_entries, fmt[rng.choice(list(fmt))])
    except ValueError:  # ustar cannot hold every name: the update in PAX then
        new = layer_bytes(new_entries)
    roundtrip(old, new, pipe=rng.random() < 0.3)


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_any_bytes_rebuild_exactly(old: bytes, new: bytes) -> None:
    """Exactness never depends on the tar making sense: not tars at all still rebuild."""
    roundtrip(old, new)
    roundtrip(old + new, new + old)


BASE = [
    dir_("usr"),
    file("usr/a.py", b"import os\n" * 300),
    file("usr/b.bin", random.Random(1).randbytes(20000)),
    file("usr/" + "long-name-" * 20, b"a long name\n" * 50),
    symlink("usr/link", "a.py"),
    hardlink("usr/hard", "usr/a.py"),
    file("usr/xattr", b"x" * 700, xattrs={"user.k": b"v" * 10}),
    file("usr/empty"),
]


def test_identical_layers_are_one_copy() -> None:
    old = layer_bytes(BASE)
    stats = roundtrip(old, old)
    assert stats.reused_bytes == len(old) and stats.operations == 2  # COPY, END
    assert stats.patch_size < 300  # the header (two diff_ids) and one operation


def test_empty_layers() -> None:
    empty = layer_bytes([])
    roundtrip(empty, empty)
    roundtrip(b"", layer_bytes(BASE))
    roundtrip(layer_bytes(BASE), b"")
    roundtrip(b"", b"")


def test_changed_file_is_a_small_delta() -> None:
    old = layer_bytes(BASE)
    changed = list(BASE)
    data = bytearray(BASE[2].data)
    data[5000:5010] = b"0123456789"
    changed[2] = file("usr/b.bin", bytes(data), mtime=BASE[2].mtime + 60)
    stats = roundtrip(old, layer_bytes(changed))
    assert stats.delta_bytes >= 20000 and stats.xor_bytes >= 512
    assert stats.patch_size < 400  # 20 kB of random bytes are not sent again


def test_renamed_file_is_copied() -> None:
    old = layer_bytes(BASE)
    moved = [*BASE[:2], file("opt/b-renamed.bin", BASE[2].data), *BASE[3:]]
    stats = roundtrip(old, layer_bytes(moved))
    assert stats.reused_bytes >= 20000
    assert stats.patch_size < 600


def test_versioned_path_is_diffed_against_its_old_version() -> None:
    lib = random.Random(2).randbytes(30000)
    old = layer_bytes([file("usr/lib/libfoo.so.1.2.3", lib)])
    new = layer_bytes([file("usr/lib/libfoo.so.1.2.4", lib[:100] + b"patched" + lib[107:])])
    stats = roundtrip(old, new)
    assert stats.delta_bytes >= 30000 and stats.patch_size < 500


def test_totally_different_layers() -> None:
    old = layer_bytes([file("a", random.Random(3).randbytes(5000))])
    new = layer_bytes([file("b", random.Random(4).randbytes(5000)), symlink("c", "b")])
    stats = roundtrip(old, new)
    assert stats.literal_bytes >= 5000


def test_large_file_changed_in_the_middle_is_delta_in_windows() -> None:
    rng = random.Random(5)
    big = rng.randbytes(9 << 20)
    edited = big[: 6 << 20] + b"inserted" + big[6 << 20 :]
    stats = roundtrip(layer_bytes([file("big", big)]), layer_bytes([file("big", edited)]))
    assert stats.patch_size < 64 << 10


def patch_of(old: bytes, new: bytes) -> bytes:
    return make(old, new)[0]


def test_truncated_patch_fails_in_one_line() -> None:
    old, new = layer_bytes(BASE), layer_bytes([*BASE, file("new", b"n" * 5000)])
    patch = patch_of(old, new)
    for cut in range(len(patch)):
        with pytest.raises(PatchError) as e:
            rebuild(old, patch[:cut])
        assert "\n" not in str(e.value) and e.value.exit_code == 5


def test_corrupt_patch_fails_in_one_line_or_rebuilds_exactly() -> None:
    """A damaged byte either fails (one line) or still rebuilds the exact target (a bit
    the decoder does not depend on): never wrong bytes."""
    old, new = layer_bytes(BASE), layer_bytes([*BASE, file("new", random.randbytes(5000))])
    patch = patch_of(old, new)
    failed = 0
    for at in range(len(patch)):
        bad = bytearray(patch)
        bad[at] ^= 0x41
        try:
            assert rebuild(old, bytes(bad)) == new
        except PatchError as e:
            assert "\n" not in str(e)
            failed += 1
    assert failed > len(patch) * 0.9


def test_wrong_reference_is_named() -> None:
    old, new = layer_bytes(BASE), layer_bytes([*BASE, file("new", b"x")])
    patch = patch_of(old, new)
    other = bytearray(old)
    other[2000] ^= 1  # same size, one bit differs inside a copied range
    for wrong in (bytes(other), old[:-512], layer_bytes(BASE[:3])):
        with pytest.raises(PatchReferenceError) as e:
            rebuild(wrong, patch)
        assert "sha256:" in str(e.value) and "\n" not in str(e.value)
        assert e.value.exit_code == 5


def test_header_is_read_alone() -> None:
    old, new = layer_bytes(BASE), layer_bytes(BASE[:4])
    patch = io.BytesIO(patch_of(old, new))
    header = read_patch_header(patch)
    assert header.reference_diff_id == "sha256:" + hashlib.sha256(old).hexdigest()
    assert header.target_size == len(new)
    out = io.BytesIO()
    apply_patch(opener(old), patch, out, header=header)
    assert out.getvalue() == new


def test_not_a_patch() -> None:
    with pytest.raises(PatchError, match="not a lamina layer patch"):
        read_patch_header(io.BytesIO(b"\x1f\x8b" + bytes(100)))
    with pytest.raises(PatchError, match="version 9"):
        read_patch_header(io.BytesIO(b"LMPATCH\n\x09" + bytes(100)))


def test_version_1_patches_still_rebuild() -> None:
    """Version 1 (no literal dictionary) is what `dictionary=0` writes: still read."""
    old = layer_bytes(BASE)
    new = layer_bytes([*BASE[:3], file("usr/new.py", b"import sys\n" * 100)])
    out = io.BytesIO()
    stats = encode_patch(opener(old), opener(new), out, level=3, dictionary=0)
    assert stats.header.version == 1 and stats.dictionary_bytes == 0
    assert read_patch_header(io.BytesIO(out.getvalue())).version == 1
    assert rebuild(old, out.getvalue()) == new
    assert make(old, new)[1].header.version == 2


def test_new_files_compress_against_their_reference_neighbours() -> None:
    rng = random.Random(6)
    words = [rng.randbytes(6).hex().encode() for _ in range(400)]
    module = lambda: b" ".join(rng.choice(words) for _ in range(3000))  # noqa: E731
    old_entries = [file(f"lib/mod{i}.py", module()) for i in range(10)]
    new = layer_bytes([*old_entries, file("lib/zzz/new.py", module())])
    old = layer_bytes(old_entries)
    with_dictionary = roundtrip(old, new)
    out = io.BytesIO()
    without = encode_patch(opener(old), opener(new), out, level=3, dictionary=0)
    assert with_dictionary.dictionary_bytes > 0
    assert with_dictionary.patch_size < without.patch_size * 0.8


@pytest.mark.parametrize("kind", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_long_names_links_and_xattrs_in_each_format(kind: int) -> None:
    """GNU long names/links ('L', 'K') and PAX records are headers like any other."""
    longer = [*BASE, symlink("usr/" + "deep/" * 30 + "link", "t" * 200)]
    old = layer_bytes(longer, kind)
    changed = [
        *longer[:3],
        file("usr/" + "long-name-" * 20, b"a longer name\n" * 50, mtime=BASE[3].mtime + 1),
        hardlink("usr/" + "hard-" * 30, "usr/a.py"),
        *longer[5:],
    ]
    stats = roundtrip(old, layer_bytes(changed, kind))
    assert stats.reused_bytes > len(old) // 2


def test_tars_that_end_oddly_rebuild_exactly() -> None:
    """Trailing bytes after the end blocks, no end blocks, a cut entry, a zero-filled
    record tail: bytes the tar model does not explain are gaps, carried as they are."""
    whole = layer_bytes(BASE)
    body = whole.rstrip(b"\0")
    body += bytes(-len(body) % 512)
    for new in (
        whole + b"trailing junk",
        body,
        whole[: len(whole) // 2 + 100],
        whole + bytes(10240),
    ):
        roundtrip(whole, new)
        roundtrip(new, whole)


def test_reference_may_be_a_pipe_and_progress_is_reported() -> None:
    old, new = layer_bytes(BASE), layer_bytes([*BASE, file("more", b"m" * 3000)])
    seen: list[tuple[str, int]] = []

    class Task:
        def __init__(self, name: str) -> None:
            self.name = name

        def advance(self, n: int) -> None:
            seen.append((self.name, n))

        def done(self) -> None:
            pass

    class Recorder(Progress):
        def task(self, description: str, total: int | None) -> Task:  # type: ignore[override]
            return Task(description)

    out = io.BytesIO()
    encode_patch(opener(old, pipe=True), opener(new, pipe=True), out, progress=Recorder())
    assert sum(n for name, n in seen if name.startswith("Encoding")) == len(new)
    seen.clear()
    back = io.BytesIO()
    apply_patch(opener(old, pipe=True), io.BytesIO(out.getvalue()), back, progress=Recorder())
    assert back.getvalue() == new
    assert sum(n for _, n in seen) == len(new)
