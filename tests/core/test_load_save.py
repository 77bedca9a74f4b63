"""load and save through the library API, on synthetic archives."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import lamina.api as api
from lamina.errors import DigestMismatchError, InvalidInputError, MissingLayersError, NotFoundError
from tests.builders import docker_archive, sha, stack, store_files
from tests.kit import validate_archive, validate_store


@pytest.fixture
def store(tmp_path: Path) -> api.Store:
    return api.open_store(tmp_path / "store")


@pytest.mark.parametrize("layout", ["legacy", "podman"])
@pytest.mark.parametrize("compress", [False, True])
def test_load_keeps_ids_tags_history(store, tmp_path, layout, compress):
    images = stack(4)
    archive = docker_archive(images, tmp_path / "a.tar", layout=layout, compress=compress)
    loaded = api.load(store, str(archive))
    assert {r.id for r in loaded} == {i.id for i in images}
    assert {c.id for c in validate_store(store)} == {i.id for i in images}
    rows = api.images(store)
    assert {(r.repository, r.tag) for r in rows} == {("local/base", "1")} | {
        ("local/stack", str(i)) for i in range(1, 4)
    }
    top = api.inspect(store, ["local/stack:3"])[0]
    assert top["Id"] == images[-1].id
    assert top["Parent"] == images[-2].id
    assert [h.entry.created_by for h in api.history(store, "local/stack:3")] == [
        "step 3",
        "step 2",
        "step 1",
        "step 0",
    ]


def test_save_roundtrip_is_deterministic(store, tmp_path):
    images = stack(3)
    api.load(store, str(docker_archive(images, tmp_path / "a.tar")))
    out1, out2 = io.BytesIO(), io.BytesIO()
    api.save(store, ["local/stack:2", "local/stack:1"], out1)
    api.save(store, ["local/stack:2", "local/stack:1"], out2)
    assert out1.getvalue() == out2.getvalue()
    with tarfile.open(fileobj=io.BytesIO(out1.getvalue())) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert names == sorted(names, key=lambda n: n.rstrip("/"))
    assert [m["RepoTags"] for m in manifest] == [["local/stack:2"], ["local/stack:1"]]
    # shared layers are stored once
    assert len([n for n in names if n.startswith("blobs/sha256/")]) == len(set(names)) - 6
    other = api.open_store(tmp_path / "other")
    (tmp_path / "s.tar").write_bytes(out1.getvalue())
    assert {c.id for c in validate_archive(tmp_path / "s.tar")} == {images[1].id, images[2].id}
    loaded = api.load(other, str(tmp_path / "s.tar"))
    assert {r.id for r in loaded} == {images[1].id, images[2].id}


def test_corrupt_layer_leaves_store_unchanged(store, tmp_path):
    api.load(store, str(docker_archive(stack(2)[:1], tmp_path / "base.tar")))
    before = store_files(store.root)
    archive = docker_archive(stack(3), tmp_path / "a.tar")
    data = bytearray(archive.read_bytes())
    idx = data.find(b"2\n\x00")  # the content of file2, inside the third layer
    assert idx > 0
    data[idx] = ord("X")
    archive.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError):
        api.load(store, str(archive))
    assert store_files(store.root) == before


def test_truncated_and_garbage_inputs(store, tmp_path):
    archive = docker_archive(stack(2), tmp_path / "a.tar")
    before = store_files(store.root)
    data = archive.read_bytes()
    (tmp_path / "t.tar").write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError):
        api.load(store, str(tmp_path / "t.tar"))
    (tmp_path / "g.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(InvalidInputError):
        api.load(store, str(tmp_path / "g.tar"))
    with pytest.raises(NotFoundError):
        api.load(store, str(tmp_path / "nope.tar"))
    assert store_files(store.root) == before


def test_delta_archive_needs_base(store, tmp_path):
    images = stack(3)
    omit = {sha(images[0].layers[0])}
    delta = docker_archive(images[1:], tmp_path / "d.tar", omit=omit)
    before = store_files(store.root)
    with pytest.raises(MissingLayersError, match="local/stack:1"):
        api.load(store, str(delta))
    assert store_files(store.root) == before
    api.load(store, str(docker_archive(images[:1], tmp_path / "b.tar")))
    loaded = api.load(store, str(delta))
    assert {r.id for r in loaded} == {images[1].id, images[2].id}
    assert {c.id for c in validate_store(store)} == {i.id for i in images}
