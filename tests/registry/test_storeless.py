"""ls, digest, manifest, config and copy: crane's verbs, with no store, against the real
registry. skopeo is the oracle for every digest and byte; Docker loads what copy writes.

Every command runs as a user would (`python -m lamina --store DIR ...`) with a store
path that must still not exist afterwards: these verbs never open or create a store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.build import FixtureSet
from tests.lamina_cli import run_lamina
from tests.peers import Docker, Podman, Registry
from tests.registry.conftest import sha256, skopeo
from tests.registry.paging_proxy import paging_proxy
from tests.registry.test_digests import skopeo_digest
from tests.registry.test_digests import skopeo_image as skopeo_image
from tests.registry.test_pull import push_multi_platform, registry_blob, skopeo_push


def lamina(tmp_path: Path, *args: str, code: int = 0) -> bytes:
    """Run lamina with a store path it must never create; return stdout."""
    store = tmp_path / "never-created"
    res = run_lamina(store, *args)
    assert res.returncode == code, res.stderr.decode()
    assert not store.exists()
    return res.stdout


def inspect(podman: Podman, ref: str, *args: str) -> bytes:
    out = skopeo(podman, "inspect", "--tls-verify=false", *args, f"docker://{ref}", text=False)
    assert isinstance(out, bytes)
    return out


@pytest.fixture
def single(skopeo_image: str) -> str:
    """A Docker v2 schema 2 image skopeo pushed."""
    return skopeo_image


@pytest.fixture
def multi(tmp_path, registry: Registry, podman: Podman, fixtures: FixtureSet, repo: str) -> str:
    """An OCI index skopeo pushed: linux/arm64/v8 and linux/amd64."""
    return push_multi_platform(tmp_path / "layout", registry, podman, fixtures, repo)


def test_digest_manifest_config_are_skopeos(tmp_path, podman: Podman, single, multi):
    for ref in (single, multi):
        raw = inspect(podman, ref, "--raw")
        assert lamina(tmp_path, "manifest", ref) == raw  # byte for byte
        assert lamina(tmp_path, "digest", ref).decode().strip() == sha256(raw)
        assert lamina(tmp_path, "config", ref) == inspect(podman, ref, "--config", "--raw")
    for ref in (single, multi):  # an index's own digest, as skopeo inspect reports it
        assert lamina(tmp_path, "digest", ref).decode().strip() == skopeo_digest(podman, ref)

    # --platform steps into the index, as crane does: the entry skopeo pushed for arm64
    index = json.loads(inspect(podman, multi, "--raw"))
    (arm,) = [d for d in index["manifests"] if d["platform"]["architecture"] == "arm64"]
    got = lamina(tmp_path, "digest", "--platform", "arm64", multi).decode().strip()
    assert got == arm["digest"]
    arm_raw = lamina(tmp_path, "manifest", "--platform", "linux/arm64/v8", multi)
    assert sha256(arm_raw) == arm["digest"]
    arm_config = inspect(podman, multi, "--config", "--raw", "--override-arch", "arm64")
    assert lamina(tmp_path, "config", "--platform", "arm64", multi) == arm_config
    assert arm_config != inspect(podman, multi, "--config", "--raw")


def test_ls_follows_every_page(tmp_path, registry: Registry, podman: Podman, single, repo):
    name = single.rsplit(":", 1)[0]
    for i in range(4):
        skopeo(
            podman,
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{single}",
            f"docker://{name}:v{i}",
        )
    expected = json.loads(skopeo(podman, "list-tags", "--tls-verify=false", f"docker://{name}"))
    assert sorted(expected["Tags"]) == ["3", "v0", "v1", "v2", "v3"]
    out = lamina(tmp_path, "ls", name).decode().split()
    assert sorted(out) == sorted(expected["Tags"])
    assert json.loads(lamina(tmp_path, "ls", "--json", name)) == out

    # pages, as distribution 3 and the hosted registries serve them (see paging_proxy)
    with paging_proxy(registry.host) as (host, pages):
        paged = f"{host}/{name.split('/', 1)[1]}"
        assert lamina(tmp_path, "ls", "--page-size", "2", paged).decode().split() == sorted(out)
        assert len(pages) == 3  # 2 + 2 + 1
        assert "n=2" in pages[0] and "last=v2" in pages[2]
    with paging_proxy(registry.host, default_page=1) as (host, pages):
        paged = f"{host}/{name.split('/', 1)[1]}"
        assert lamina(tmp_path, "ls", paged).decode().split() == sorted(out)
        assert len(pages) == 5  # a registry that pages by default is followed too


def test_copy_within_a_registry_mounts_and_keeps_every_digest(
    tmp_path, registry: Registry, podman: Podman, multi, repo
):
    target = f"{registry.host}/{repo}-copy:multi"
    doc = json.loads(lamina(tmp_path, "copy", "--json", multi, target))
    served = skopeo_digest(podman, multi)
    assert doc["Digest"] == served == skopeo_digest(podman, target)
    assert inspect(podman, target, "--raw") == inspect(podman, multi, "--raw")
    assert doc["Blobs"]["Copied"] == 0 and doc["Blobs"]["Mounted"] > 0
    assert registry.count("PUT", f"/{repo}-copy/blobs/") == 0
    for arch in ("arm64", "amd64"):  # each platform's image is there, by its own digest
        assert inspect(podman, target, "--config", "--raw", "--override-arch", arch) == inspect(
            podman, multi, "--config", "--raw", "--override-arch", arch
        )

    # one platform: that manifest, byte for byte, under the tag
    one = f"{registry.host}/{repo}-arm:1"
    lamina(tmp_path, "copy", "--platform", "linux/arm64/v8", multi, f"docker://{one}")
    arm = lamina(tmp_path, "digest", "--platform", "arm64", multi).decode().strip()
    assert skopeo_digest(podman, one) == arm


def test_copy_between_registries_streams_and_keeps_digest(
    tmp_path, start_registry: Callable[..., Registry], podman: Podman, single, repo
):
    other = start_registry()
    target = f"{other.host}/{repo}:3"
    doc = json.loads(lamina(tmp_path, "copy", "--json", f"docker://{single}", target))
    assert doc["Digest"] == skopeo_digest(podman, single) == skopeo_digest(podman, target)
    config = inspect(podman, target, "--config", "--raw")
    assert doc["Id"] == sha256(config)
    blobs = len(json.loads(inspect(podman, single, "--raw"))["layers"]) + 1
    assert doc["Blobs"] == {"Copied": blobs, "Mounted": 0, "Existed": 0}
    assert other.count("PUT", f"/{repo}/blobs/uploads/") == blobs
    again = json.loads(lamina(tmp_path, "copy", "--json", single, target))
    assert again["Blobs"] == {"Copied": 0, "Mounted": 0, "Existed": blobs}


def test_copy_to_archives_loads_in_docker_with_the_same_id(
    tmp_path, clean_docker: Docker, podman: Podman, single, multi
):
    config = inspect(podman, single, "--config", "--raw")
    out = tmp_path / "copied.tar"
    lamina(tmp_path, "copy", single, f"docker-archive:{out}:local/copied:1")
    loaded = clean_docker.run("load", "-i", str(out)).stdout
    assert "local/copied:1" in loaded
    image_id = clean_docker.run("image", "inspect", "-f", "{{.Id}}", "local/copied:1").stdout
    assert image_id.strip() == sha256(config)

    # an oci-archive of one platform of an index; skopeo reads it back the same
    oci = tmp_path / "arm.tar"
    lamina(tmp_path, "copy", "--platform", "arm64", multi, f"oci-archive:{oci}")
    arm_config = inspect(podman, multi, "--config", "--raw", "--override-arch", "arm64")
    back = skopeo(podman, "inspect", "--config", "--raw", f"oci-archive:{oci}", text=False)
    assert back == arm_config


def test_copy_from_archives_to_a_registry(
    tmp_path, registry: Registry, podman: Podman, fixtures: FixtureSet, repo
):
    # an OCI layout goes up byte for byte: the registry serves skopeo's own manifest
    fixture = fixtures["skopeo-oci-gzip"]
    (entry,) = json.loads((fixture.path / "index.json").read_bytes())["manifests"]
    target = f"{registry.host}/{repo}:oci"
    doc = json.loads(lamina(tmp_path, "copy", "--json", f"oci:{fixture.path}", target))
    assert doc["Digest"] == entry["digest"] == skopeo_digest(podman, target)
    assert sha256(inspect(podman, target, "--config", "--raw")) == doc["Id"] == fixture.image.id

    # a docker-archive has no such manifest: pushed as `push` does, same image ID
    fixture = fixtures["skopeo-docker"]
    target = f"{registry.host}/{repo}:docker"
    doc = json.loads(lamina(tmp_path, "copy", "--json", f"docker-archive:{fixture.path}", target))
    assert doc["Digest"] == skopeo_digest(podman, target)
    assert sha256(inspect(podman, target, "--config", "--raw")) == doc["Id"] == fixture.image.id
    # and into an oci: directory, which skopeo reads
    layout = tmp_path / "layout"
    lamina(tmp_path, "copy", f"docker-archive:{fixture.path}", f"oci:{layout}:app:1")
    got = skopeo(podman, "inspect", "--config", "--raw", f"oci:{layout}:app:1", text=False)
    assert isinstance(got, bytes) and sha256(got) == fixture.image.id


def test_index_round_trips_through_an_oci_layout_byte_for_byte(
    tmp_path, start_registry: Callable[..., Registry], podman: Podman, multi, repo
):
    raw = inspect(podman, multi, "--raw")
    for kind, path in (("oci", tmp_path / "dir"), ("oci-archive", tmp_path / "multi.tar")):
        lamina(tmp_path, "copy", multi, f"{kind}:{path}:multi")  # the whole index, as crane
        assert skopeo(podman, "inspect", "--raw", f"{kind}:{path}:multi", text=False) == raw
        other = start_registry()
        back = f"{other.host}/{repo}:multi"
        doc = json.loads(lamina(tmp_path, "copy", "--json", f"{kind}:{path}:multi", back))
        assert doc["Digest"] == sha256(raw) == skopeo_digest(podman, back)
        for arch in ("arm64", "amd64"):
            assert inspect(podman, back, "--config", "--raw", "--override-arch", arch) == inspect(
                podman, multi, "--config", "--raw", "--override-arch", arch
            )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_damaged_blob_fails_in_one_line_and_writes_nothing(
    tmp_path, start_registry: Callable[..., Registry], podman: Podman, fixtures, repo
):
    source, target = start_registry(), start_registry()
    ref = f"{source.host}/{repo}:3"
    skopeo_push(podman, f"docker-archive:{fixtures['skopeo-docker'].path}", ref)
    layers = json.loads(inspect(podman, ref, "--raw"))["layers"]
    blob = registry_blob(source, layers[-1]["digest"])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x55
    blob.write_bytes(bytes(data))

    err = run_lamina(tmp_path / "never", "copy", ref, f"{target.host}/{repo}:3")
    assert err.returncode == 5, err.stderr.decode()
    lines = err.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "lamina: error:" in lines[0] and "is corrupt" in lines[0]
    assert target.count("PUT", "/manifests/") == 0
    missing = podman.run(
        "skopeo", "inspect", "--tls-verify=false", f"docker://{target.host}/{repo}:3", check=False
    )
    assert missing.returncode != 0
    assert not list(target.root.rglob(f"blobs/sha256/*/{layers[-1]['digest'][7:]}/data"))

    outputs = tmp_path / "out"
    outputs.mkdir()
    for kind in ("docker-archive", "oci-archive", "oci"):  # through images, and byte-exact
        err = run_lamina(tmp_path / "never", "copy", ref, f"{kind}:{outputs / kind}")
        assert err.returncode == 5 and len(err.stderr.decode().strip().splitlines()) == 1
    assert list(outputs.iterdir()) == []  # no file, no directory, no temp left beside
    assert not (tmp_path / "never").exists()
