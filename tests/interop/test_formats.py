"""Formats are exact: what real tools write loads in lamina with the same IDs, tags and
history, and what lamina writes loads in Docker, podman and skopeo the same way."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

import lamina
from lamina import reference
from tests.fixtures.build import NAMES, Fixture, FixtureSet
from tests.kit import validate_archive, validate_store
from tests.lamina_cli import run_lamina

FIXTURE_NAMES = list(NAMES)


def familiar(tag: str) -> str:
    """How lamina names what a tool tagged: a short OCI ref.name like umoci's "1" is
    named as `podman load` names it, localhost/1:latest (tests/interop/test_short_names.py)."""
    if "/" not in tag:
        tag = f"localhost/{tag}"
    return reference.parse(tag).familiar


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_real_tool_archives_load_identically(fixtures: FixtureSet, tmp_path: Path, name: str):
    fx: Fixture = fixtures[name]
    store = lamina.open_store(tmp_path / "store")
    loaded = lamina.load(store, str(fx.path))
    assert sorted(r.id for r in loaded) == sorted({i.id for i in fx.images})
    for expected in fx.images:
        img = lamina.get_image(store, expected.id)
        assert list(img.image.diff_ids) == expected.diff_ids
        assert len(img.image.history) == expected.history
        assert [h.created_by for h in img.image.history] == expected.created_by
        names = {familiar(t) for t in expected.tags}
        assert set(img.names) == names
        for n in names:
            assert lamina.get_image(store, n).id == expected.id
    assert {c.id for c in validate_store(store)} == {i.id for i in fx.images}


@pytest.mark.parametrize("fmt", lamina.SAVE_FORMATS)
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_saves_valid_in_every_format(fixtures, tmp_path, name, fmt):
    """Load what a real tool wrote, save it in each format: valid, and loads back the same."""
    fx: Fixture = fixtures[name]
    store = lamina.open_store(tmp_path / "store")
    ids = sorted(r.id for r in lamina.load(store, str(fx.path)))
    out = tmp_path / "out"
    lamina.save(store, ids, out, fmt=fmt)
    assert sorted(c.id for c in validate_archive(out)) == ids
    again = lamina.open_store(tmp_path / "again")
    assert sorted(r.id for r in lamina.load(again, str(out))) == ids
    assert sorted(c.id for c in validate_store(again)) == ids


def test_cli_prints_docker_load_lines(fixtures: FixtureSet, tmp_path: Path):
    path = fixtures["docker-legacy-multi"].path
    cp = run_lamina(tmp_path / "s", "load", "-i", str(path))
    assert cp.returncode == 0, cp.stderr
    with tarfile.open(path) as tar:  # docker load reports in manifest.json order
        order = [
            t for m in json.loads(tar.extractfile("manifest.json").read()) for t in m["RepoTags"]
        ]
    assert cp.stdout.decode().splitlines() == [f"Loaded image: {t}" for t in order]
    assert len(order) == 4
    # stdin works too, and loading the same archive twice changes nothing
    data = fixtures["docker-legacy-single"].path.read_bytes()
    cp = run_lamina(tmp_path / "s", "load", input=data)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.decode().strip() == "Loaded image: local/stack:3"


@pytest.fixture
def seed_store(fixtures: FixtureSet, tmp_path: Path) -> lamina.Store:
    store = lamina.open_store(tmp_path / "seed")
    lamina.load(store, str(fixtures["docker-legacy-multi"].path))
    return store


def expected_ids(fixtures: FixtureSet) -> dict[str, str]:
    return {i.tags[0]: i.id for i in fixtures["docker-legacy-multi"].images}


def test_lamina_save_loads_in_docker(clean_docker, seed_store, fixtures, tmp_path):
    archive = tmp_path / "s.tar"
    lamina.save(seed_store, ["local/stack:3", "local/stack:2", "local/base:1"], archive)
    assert len(validate_archive(archive)) == 3
    out = clean_docker.run("load", "-i", str(archive)).stdout
    assert sorted(out.split("\n")[:-1]) == sorted(
        ["Loaded image: local/stack:3", "Loaded image: local/stack:2", "Loaded image: local/base:1"]
    )
    ids = expected_ids(fixtures)
    for tag in ("local/stack:3", "local/stack:2", "local/base:1"):
        got = clean_docker.run("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
        assert got == ids[tag]
    history = clean_docker.run(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}", "local/stack:3"
    )
    assert history.stdout.split("\n")[0] == "sh -c echo 3 > /file3"
    run = clean_docker.run("run", "--rm", "local/stack:3", "cat", "/file1", "/file2", "/file3")
    assert run.stdout.split() == ["1", "2", "3"]


def test_docker_roundtrip_through_lamina(clean_docker, fixtures, tmp_path):
    """docker save -> lamina load -> lamina save -> docker load: same IDs, same files."""
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(fixtures["docker-legacy-del"].path))
    archive = tmp_path / "out.tar"
    lamina.save(store, ["local/del:1"], archive)
    assert [c.id for c in validate_archive(archive)] == [fixtures["docker-legacy-del"].image.id]
    clean_docker.run("load", "-i", str(archive))
    got = clean_docker.run("image", "inspect", "--format", "{{.Id}}", "local/del:1").stdout.strip()
    assert got == fixtures["docker-legacy-del"].image.id


def test_lamina_save_loads_in_podman(clean_podman, seed_store, fixtures, tmp_path):
    archive = tmp_path / "s.tar"
    lamina.save(seed_store, ["local/stack:3", "local/stack:1"], archive)
    clean_podman.run("podman", "load", "-i", str(archive))
    ids = expected_ids(fixtures)
    for tag in ("local/stack:3", "local/stack:1"):
        got = clean_podman.run("podman", "image", "inspect", "--format", "{{.Id}}", tag).stdout
        assert "sha256:" + got.strip().removeprefix("sha256:") == ids[tag]
    run = clean_podman.run("podman", "run", "--rm", "local/stack:3", "cat", "/file3")
    assert run.stdout.strip() == "3"


def test_skopeo_reads_lamina_archives_and_store(podman, seed_store, fixtures, tmp_path):
    ids = expected_ids(fixtures)
    archive = tmp_path / "s.tar"
    lamina.save(seed_store, ["local/stack:2"], archive)
    for src in (
        f"docker-archive:{archive}",
        f"oci-archive:{archive}:local/stack:2",
        f"oci:{seed_store.root}:local/stack:2",
    ):
        raw = podman.run("skopeo", "inspect", "--raw", "--config", src).stdout
        config_digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
        assert config_digest == ids["local/stack:2"], src
    # a full copy out of the store into a docker-archive loads back with the same ID
    out = tmp_path / "from-store.tar"
    podman.run(
        "skopeo",
        "copy",
        f"oci:{seed_store.root}:local/stack:3",
        f"docker-archive:{out}:local/stack:3",
    )
    other = lamina.open_store(tmp_path / "other")
    assert [r.id for r in lamina.load(other, str(out))] == [ids["local/stack:3"]]


def test_oci_archive_and_dir_formats(podman, seed_store, fixtures, tmp_path):
    ids = expected_ids(fixtures)
    oci_tar = tmp_path / "o.tar"
    lamina.save(seed_store, ["local/stack:1"], oci_tar, fmt="oci-archive")
    with tarfile.open(oci_tar) as tar:
        assert "manifest.json" not in tar.getnames()
        index = json.loads(tar.extractfile("index.json").read())
    assert (
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "local/stack:1"
    )
    assert [c.id for c in validate_archive(oci_tar)] == [ids["local/stack:1"]]
    oci_dir = tmp_path / "od"
    lamina.save(seed_store, ["local/stack:1"], oci_dir, fmt="oci-dir")
    assert [c.id for c in validate_archive(oci_dir)] == [ids["local/stack:1"]]
    for src in (f"oci-archive:{oci_tar}:local/stack:1", f"oci:{oci_dir}:local/stack:1"):
        out = tmp_path / "x.tar"
        out.unlink(missing_ok=True)
        podman.run("skopeo", "copy", src, f"docker-archive:{out}:local/stack:1")
        other = lamina.open_store(tmp_path / "o2")
        assert [r.id for r in lamina.load(other, str(out))] == [ids["local/stack:1"]]


def test_save_by_id_carries_no_name_like_docker(clean_docker, seed_store, fixtures, tmp_path):
    image_id = expected_ids(fixtures)["local/stack:2"]
    archive = tmp_path / "by-id.tar"
    lamina.save(seed_store, [image_id[7:19]], archive)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest[0]["RepoTags"] is None
    assert [c.id for c in validate_archive(archive)] == [image_id]
    out = clean_docker.run("load", "-i", str(archive)).stdout
    assert out.strip() == f"Loaded image ID: {image_id}"
