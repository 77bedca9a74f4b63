"""A load from a pipe (or of a whole-archive gzip file) spools the archive member by
member and moves plain layers into the store (transports/spool.py): the same images as
a load of the file, every layer still verified against its diff_id and checked as a tar,
and a refused input leaves the store as it was and tmp/ empty."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.builders import FakeImage, docker_archive, layer_tar, stack, store_files
from tests.faults.conftest import assert_healthy, lamina, ok
from tests.kit.image import add_bytes, oci_archive, sha

BIG = 1_500_000  # over transports/spool.BIG: the layer gets a spool of its own


def _images() -> list[FakeImage]:
    base = layer_tar({"etc/": None, "etc/os": b"base\n", "blob": os.urandom(BIG)})
    top = layer_tar({"small": b"small\n"})
    return [FakeImage([base], ["pipe/base:1"]), FakeImage([base, top], ["pipe/app:1"])]


def _ids(store: Path) -> list[str]:
    return sorted(ok(store, "images", "-q", "--no-trunc").split())


@pytest.mark.parametrize(
    "kind", ["legacy", "podman", "gzip-layers", "oci", "oci-gzip", "oci-zstd", "gzip-file"]
)
def test_a_pipe_loads_what_the_file_loads(tmp_path, kind):
    images, path = _images(), tmp_path / "a.tar"
    if kind.startswith("oci"):
        oci_archive(images, path, compression=kind.partition("-")[2] or "none")
    else:
        docker_archive(images, path, layout=kind, compress=kind == "gzip-layers")
    if kind == "gzip-file":
        path.with_suffix(".gz").write_bytes(gzip.compress(path.read_bytes(), 1))
        path = path.with_suffix(".gz")
    ok(tmp_path / "file", "load", "-i", str(path))
    piped = tmp_path / "piped"
    ok(piped, "load", input=path.read_bytes())
    assert _ids(piped) == _ids(tmp_path / "file") and len(_ids(piped)) == 2
    assert_healthy(piped)
    saved = tmp_path / "saved.tar"
    ok(piped, "save", "-o", str(saved), "pipe/app:1")
    ok(tmp_path / "again", "load", input=saved.read_bytes())
    assert _ids(tmp_path / "again") == [images[1].id]


def _lying_archive(path: Path, config_of: FakeImage, layer: bytes) -> Path:
    """A docker-archive whose config is `config_of`'s but whose layer file holds `layer`."""
    with tarfile.open(path, "w") as tar:
        name = f"{sha(config_of.layers[0])[7:]}/layer.tar"
        add_bytes(tar, name, layer)
        add_bytes(tar, "c.json", config_of.config())
        manifest = [{"Config": "c.json", "RepoTags": ["pipe/bad:1"], "Layers": [name]}]
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return path


@pytest.mark.parametrize("damage", ["other bytes", "not a tar"])
def test_a_bad_layer_from_a_pipe_changes_nothing(tmp_path, damage):
    store = tmp_path / "s"
    ok(store, "load", "-i", str(docker_archive(stack(2), tmp_path / "stack.tar")))
    before = store_files(store)
    if damage == "other bytes":  # the config names another layer than the file holds
        claimed = FakeImage([layer_tar({"blob": os.urandom(BIG)})])
        archive = _lying_archive(tmp_path / "a.tar", claimed, layer_tar({"x": os.urandom(BIG)}))
        expected = "is corrupt: expected"
    else:  # bytes that hash to the diff_id, but are no tar
        garbage = os.urandom(BIG)
        archive = _lying_archive(tmp_path / "a.tar", FakeImage([garbage]), garbage)
        expected = "not a tar archive or is corrupt"
    done = lamina(store, "load", input=archive.read_bytes())
    assert done.returncode == 5 and expected in done.stderr.decode(), done.stderr.decode()
    assert store_files(store) == before
    assert_healthy(store)
