"""The store's header indexes (store/headerindex.py): written when a layer comes in
(load) or is made (squash: as it writes the layer), read instead of the tars by squash,
analyze and diff, rebuilt when missing or damaged with the same results, gone with their
layer, and checked by `system check`.

"Read instead of the tars" is proved by counting the tar parses that build an index
(HeaderIndex.of, IndexBuilder.of) and naming the files they read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

import lamina
from lamina.api.images import layer_sizes
from lamina.layer import headerindex, indexfile
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.indexfile import IndexBuilder
from lamina.layer.tarcheck import content_size
from tests.builders import (
    FakeImage,
    docker_archive,
    layer_tar,
    many_files_archive,
    stack,
    store_files,
)
from tests.core.test_system_check import check


@pytest.fixture
def store(tmp_path: Path) -> lamina.Store:
    s = lamina.open_store(tmp_path / "s")
    lamina.load(s, str(docker_archive(stack(4), tmp_path / "a.tar")))
    return s


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the files whose tar headers are read to build an index."""
    names: list[str] = []
    real = HeaderIndex.of.__func__  # type: ignore[attr-defined]

    def counting(cls: type[HeaderIndex], stream: BinaryIO, what: str = "layer") -> HeaderIndex:
        names.append(str(getattr(stream, "name", "?")))
        return real(cls, stream, what)  # type: ignore[no-any-return]

    monkeypatch.setattr(headerindex.HeaderIndex, "of", classmethod(counting))
    real_builder = IndexBuilder.of.__func__  # type: ignore[attr-defined]

    def counting_builder(cls: type[IndexBuilder], stream: BinaryIO, *args: Any) -> IndexBuilder:
        names.append(str(getattr(stream, "name", "?")))
        return real_builder(cls, stream, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(indexfile.IndexBuilder, "of", classmethod(counting_builder))
    yield names


def layers(store: lamina.Store, ref: str = "local/stack:3") -> list[str]:
    return [x.diff_id for x in lamina.get_image(store, ref).image.layers]


def test_load_writes_an_index_per_layer_equal_to_reading_the_tar(store):
    for diff_id in layers(store):
        with open(store.layer_path(diff_id), "rb") as f:
            expected = HeaderIndex.of(f).to_bytes(diff_id)
        assert store.indexes.path(diff_id).read_bytes() == expected


def test_squash_reads_indexes_not_tars_and_indexes_its_new_layer(store, parsed):
    result = lamina.squash(store, "local/stack:3", layers="2..3", tag="local/sq:1")
    new = layers(store, "local/sq:1")
    assert parsed == []  # no tar read: not the inputs, nor the new layer (indexed as written)
    with open(store.layer_path(new[-1]), "rb") as f:
        expected = HeaderIndex.of(f).to_bytes(new[-1])
    assert store.indexes.path(new[-1]).read_bytes() == expected
    assert result.layers_after == 3


def test_analyze_and_diff_read_no_tar(store, parsed):
    lamina.analyze(store, "local/stack:3")
    lamina.diff(store, "local/stack:2", "local/stack:3")
    assert parsed == []


def _squash_id(store: lamina.Store, tag: str) -> str:
    return lamina.squash(store, "local/stack:3", layers="1..3", tag=tag).id


def test_missing_indexes_are_rebuilt_with_the_same_results(store, parsed):
    with_index = (_squash_id(store, "local/a:1"), lamina.analyze(store, "local/stack:3"))
    parsed.clear()
    for diff_id in layers(store):
        store.indexes.path(diff_id).unlink()
    assert _squash_id(store, "local/b:1") == with_index[0]
    assert len(parsed) == 4  # the four layers' tars, read once
    assert all(store.indexes.load(d) is not None for d in layers(store))
    for diff_id in layers(store):
        store.indexes.path(diff_id).unlink()
    assert lamina.analyze(store, "local/stack:3").analysis == with_index[1].analysis


@pytest.mark.parametrize("where", [0, 100, -40, -1])
def test_a_damaged_index_is_rebuilt_with_the_same_results(store, parsed, where):
    expected = _squash_id(store, "local/a:1")
    parsed.clear()
    victim = layers(store)[1]
    path = store.indexes.path(victim)
    data = bytearray(path.read_bytes())
    data[where] ^= 0x20
    path.write_bytes(bytes(data))
    assert _squash_id(store, "local/b:1") == expected
    assert parsed == [str(store.layer_path(victim))]
    assert store.indexes.load(victim) is not None  # written back


def test_an_index_of_another_layer_is_not_used(store, parsed):
    a, b = layers(store)[1:3]
    store.indexes.path(b).write_bytes(store.indexes.path(a).read_bytes())
    before = lamina.analyze(store, "local/stack:3").analysis
    assert parsed == [str(store.layer_path(b))]
    parsed.clear()
    assert lamina.analyze(store, "local/stack:3").analysis == before and parsed == []


def test_removing_a_layer_removes_its_index(store):
    top = layers(store)[-1]
    assert store.indexes.path(top).exists()
    lamina.rmi(store, ["local/stack:3"])
    assert not store.indexes.path(top).exists()
    assert store.indexes.path(layers(store, "local/stack:2")[-1]).exists()


def test_system_check_reports_and_repairs_stale_and_damaged_indexes(store):
    stale = store.indexes.dir / ("ef" * 32)
    stale.write_bytes(b"left behind")
    damaged = layers(store)[0]
    store.indexes.path(damaged).write_bytes(b"garbage")
    code, lines = check(store.root)
    assert code == 1
    assert sorted(x.split(":")[0] for x in lines) == ["index", "leftover"]
    code, lines = check(store.root, "--repair")
    assert not stale.exists() and store.indexes.load(damaged) is not None
    assert check(store.root) == (0, [])


# -- bounded memory: the index of a layer entering the store spills past its bound ------
def _spills(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows each spill of an IndexBuilder wrote to its temp files."""
    spilled: list[int] = []
    real = IndexBuilder._spill

    def counting(self: IndexBuilder) -> None:
        if self._new_file is not None:
            spilled.append(len(self._rows))
        real(self)

    monkeypatch.setattr(IndexBuilder, "_spill", counting)
    return spilled


def _no_temp_files(s: lamina.Store) -> None:
    assert [p for p in s.tmp_root.rglob("*") if p.is_file()] == []


def test_a_load_of_200k_entries_spills_its_index_and_writes_the_same_file(tmp_path, monkeypatch):
    spilled = _spills(monkeypatch)
    archive = many_files_archive(tmp_path / "many.tar", 200_000)
    s = lamina.open_store(tmp_path / "s")
    lamina.load(s, str(archive))
    (diff_id,) = layers(s, "local/many:1")
    with open(s.layer_path(diff_id), "rb") as f:
        expected = HeaderIndex.of(f).to_bytes(diff_id)  # the old path: all rows in memory
    assert len(expected) > 4 * indexfile.BOUND
    assert s.indexes.path(diff_id).read_bytes() == expected
    assert len(spilled) >= 4 and sum(spilled) > 150_000  # most rows went through files
    _no_temp_files(s)
    sizes = layer_sizes(s)
    assert sizes(diff_id) == 0 and s.indexes.loaded == 1  # summed from the index


def test_a_failed_load_leaves_no_index_and_no_spilled_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(indexfile, "BOUND", 2048)
    spilled = _spills(monkeypatch)
    s = lamina.open_store(tmp_path / "s")
    files = {f"f{i:04d}": b"" for i in range(400)}
    good = layer_tar(files)
    truncated = layer_tar({f"g{i:04d}": b"x" for i in range(400)})[:-20_000]
    images = [FakeImage([good], ["local/good:1"]), FakeImage([good, truncated], ["local/bad:1"])]
    before = store_files(s.root)
    with pytest.raises(lamina.LaminaError, match="truncated"):
        lamina.load(s, str(docker_archive(images, tmp_path / "a.tar")))
    assert len(spilled) > 4  # both layers' rows went through files before the failure
    assert store_files(s.root) == before
    assert list(s.indexes.files()) == []
    _no_temp_files(s)


# -- layer sizes from the indexes -----------------------------------------------------
def _tar_sizes(store: lamina.Store) -> list[int]:
    out = []
    for diff_id in layers(store):
        with open(store.layer_path(diff_id), "rb") as f:
            out.append(content_size(f))
    return out


def test_layer_sizes_are_summed_from_the_indexes(store):
    built = store.indexes.built
    assert [layer_sizes(store)(d) for d in layers(store)] == _tar_sizes(store)
    assert store.indexes.loaded == 4 and store.indexes.built == built


def test_layer_sizes_rebuild_a_missing_damaged_or_foreign_index(store):
    ids = layers(store)
    expected = [store.indexes.path(d).read_bytes() for d in ids]
    store.indexes.path(ids[0]).unlink()
    damaged = bytearray(expected[1])
    damaged[-40] ^= 1
    store.indexes.path(ids[1]).write_bytes(bytes(damaged))
    store.indexes.path(ids[2]).write_bytes(expected[3])  # sound, but another layer's
    assert [layer_sizes(store)(d) for d in ids] == _tar_sizes(store)
    assert store.indexes.built == 3 and store.indexes.loaded == 1
    assert [store.indexes.path(d).read_bytes() for d in ids] == expected  # written back
    _no_temp_files(store)


def test_import_indexes_its_layer_as_it_streams_in(tmp_path, parsed, monkeypatch):
    monkeypatch.setattr(indexfile, "BOUND", 2048)
    spilled = _spills(monkeypatch)
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(layer_tar({f"etc/f{i:03d}": b"x" * i for i in range(300)}))
    s = lamina.open_store(tmp_path / "s")
    image_id = lamina.import_tar(s, str(tar), "local/imported:1")
    (diff_id,) = lamina.get_image(s, image_id).image.diff_ids
    assert parsed == []  # indexed as it came in, not read back
    assert len(spilled) > 4
    with tar.open("rb") as f:
        expected = HeaderIndex.of(f).to_bytes(diff_id)
    assert s.indexes.path(diff_id).read_bytes() == expected
    _no_temp_files(s)
