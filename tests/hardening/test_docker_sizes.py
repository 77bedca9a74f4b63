"""`inspect` Size, `images` SIZE and `history` SIZE as Docker computes them: the bytes of
the files in the layers (the sum of the entries' sizes), not the bytes of the tars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import FakeImage, docker_archive, layer_tar
from tests.lamina_cli import run_lamina
from tests.peers import Docker

FIXTURES = ["docker-legacy-multi", "podman-docker", "podman-overlay-opaque"]


def test_sizes_are_file_bytes_not_tar_bytes(tmp_path: Path) -> None:
    layers = [layer_tar({"a": b"x" * 1000, "d/": None, "d/b": b"yy"}), layer_tar({"c": b"z"})]
    store = tmp_path / "s"
    archive = docker_archive([FakeImage(layers, ["local/sized:1"])], tmp_path / "a.tar")
    run_lamina(store, "load", "-i", str(archive), check=True)
    doc = json.loads(run_lamina(store, "inspect", "local/sized:1", check=True).stdout)[0]
    assert doc["Size"] == 1003  # was the tar bytes: 2 x 10240
    history = json.loads(run_lamina(store, "history", "--json", "local/sized:1").stdout)
    assert [row["Size"] for row in history] == [1, 1002]


@pytest.mark.parametrize("name", FIXTURES)
def test_inspect_size_matches_docker(
    tmp_path: Path, clean_docker: Docker, fixtures: object, name: str
) -> None:
    path = Path(fixtures[name].path)  # type: ignore[index]
    clean_docker.run("load", "-i", str(path))
    store = tmp_path / "s"
    run_lamina(store, "load", "-i", str(path), check=True)
    for doc in json.loads(run_lamina(store, "inspect", *_tags(store), check=True).stdout):
        ref = doc["RepoTags"][0]
        theirs = clean_docker.run("inspect", "-f", "{{.Size}}", ref).stdout.strip()
        assert doc["Size"] == int(theirs), ref


def _tags(store: Path) -> list[str]:
    rows = json.loads(run_lamina(store, "images", "--json", check=True).stdout)
    return [f"{r['Repository']}:{r['Tag']}" for r in rows]
