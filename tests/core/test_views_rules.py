"""images / tree / history / inspect / tag / rmi on the seed's stack (base + 3 commits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lamina
from tests.builders import docker_archive, stack
from tests.lamina_cli import run_lamina


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, list]:
    images = stack(4)
    store = tmp_path / "s"
    run_lamina(store, "load", "-i", str(docker_archive(images, tmp_path / "a.tar")), check=True)
    return store, images


def out(store: Path, *args: str) -> str:
    cp = run_lamina(store, *args)
    assert cp.returncode == 0, cp.stderr.decode()
    return cp.stdout.decode()


def test_images_table_and_json(seeded):
    store, images = seeded
    lines = out(store, "images").splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert [ln.split()[:3] for ln in lines[1:]] == [
        ["local/stack", "3", images[3].id[7:19]],
        ["local/stack", "2", images[2].id[7:19]],
        ["local/stack", "1", images[1].id[7:19]],
        ["local/base", "1", images[0].id[7:19]],
    ]
    rows = json.loads(out(store, "images", "--json", "local/stack"))
    assert {r["Tag"] for r in rows} == {"1", "2", "3"}
    assert out(store, "images", "-q", "--no-trunc", "local/stack:2").split() == [images[2].id]


def test_tag_and_reference_forms(seeded):
    store, images = seeded
    out(store, "tag", "local/stack:3", "docker.io/library/mine")
    assert json.loads(out(store, "inspect", "mine:latest"))[0]["Id"] == images[3].id
    assert json.loads(out(store, "inspect", images[3].id[7:15]))[0]["Id"] == images[3].id
    mine = json.loads(out(store, "inspect", "mine"))[0]
    assert mine["RepoDigests"] == []  # only loaded from a file, as with Docker
    digest = mine["Metadata"]["ManifestDigest"]
    assert json.loads(out(store, "inspect", f"mine@{digest}"))[0]["Id"] == images[3].id
    doc = json.loads(out(store, "inspect", "local/stack:3"))[0]
    assert doc["RepoTags"] == ["local/stack:3", "mine:latest"]
    assert doc["Parent"] == images[2].id
    assert doc["RootFS"]["Layers"] == json.loads(images[3].config())["rootfs"]["diff_ids"]
    for key in ("Created", "Config", "Architecture", "Os", "Size"):
        assert key in doc


def test_history_marks_stored_images(seeded):
    store, images = seeded
    rows = json.loads(out(store, "history", "--json", "local/stack:2"))
    assert [r["Id"] for r in rows] == [images[2].id, images[1].id, images[0].id]
    assert [r["CreatedBy"] for r in rows] == ["step 2", "step 1", "step 0"]


def test_tree_shows_the_stack(seeded):
    store, images = seeded
    lines = out(store, "tree").splitlines()
    assert len(lines) == 4
    for depth, (line, img) in enumerate(zip(lines, images, strict=True)):
        assert line.startswith("  " * depth + "└─")
        assert img.id[7:19] in line and img.tags[0] in line


def test_rmi_follows_docker_rules(seeded):
    """The seed: rmi stack:2 only untags; rmi stack:3 then deletes 3 and the untagged 2."""
    store, images = seeded
    assert out(store, "rmi", "local/stack:2").splitlines() == ["Untagged: local/stack:2"]
    assert "<none>" not in out(store, "images")
    assert images[2].id[7:19] in out(store, "images", "-a")
    lines = out(store, "rmi", "local/stack:3").splitlines()
    assert lines[0] == "Untagged: local/stack:3"
    assert lines[1] == f"Deleted: {images[3].id}"
    assert f"Deleted: {images[2].id}" in lines
    assert images[1].id not in "\n".join(lines)  # tagged parent stays
    assert len([ln for ln in lines if ln.startswith("Deleted: ")]) == 4  # 2 images, 2 layers
    remaining = out(store, "images", "-a", "-q", "--no-trunc").split()
    assert sorted(remaining) == sorted([images[0].id, images[1].id])
    # the blobs of the deleted layers are gone, the shared ones stay
    s = lamina.open_store(store)
    assert not any(s.has_layer(d) for d in json.loads(images[3].config())["rootfs"]["diff_ids"][2:])
    assert s.has_layer(json.loads(images[1].config())["rootfs"]["diff_ids"][1])


def test_rmi_by_id_with_several_names_needs_force(seeded):
    store, images = seeded
    out(store, "tag", "local/stack:3", "other:1")
    cp = run_lamina(store, "rmi", images[3].id[7:19])
    assert cp.returncode == 4 and b"referenced in multiple repositories" in cp.stderr
    lines = out(store, "rmi", "-f", images[3].id[7:19]).splitlines()
    assert sorted(lines[:2]) == ["Untagged: local/stack:3", "Untagged: other:1"]
    cp = run_lamina(store, "rmi", images[1].id[7:19])
    assert cp.returncode == 4 and b"dependent child images" in cp.stderr


def test_image_prune_removes_dangling(seeded, tmp_path):
    store, images = seeded
    # retagging stack:3 onto the base leaves the old stack:3 dangling
    out(store, "tag", "local/base:1", "local/stack:3")
    assert "<none>" in out(store, "images")
    lines = out(store, "image", "prune", "-f").splitlines()
    assert lines[0] == "Deleted Images:"
    assert f"deleted: {images[3].id}" in lines
    assert "<none>" not in out(store, "images", "-a")
