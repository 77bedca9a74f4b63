"""lamina push against the real distribution registry, checked with skopeo."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

import lamina.api as api
from lamina.errors import InvalidInputError
from tests.kit import validate_manifest
from tests.peers import Podman, Registry
from tests.registry.conftest import (
    big_image,
    created_by,
    load_stack,
    remote_config,
    sha256,
    skopeo,
)


def _decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(data).read()
    return data


def _copy_back(podman: Podman, ref: str, out: Path) -> tuple[bytes, list[bytes]]:
    """skopeo copy to a `dir:` (blobs as they are); returns (raw config, layer blobs)."""
    skopeo(podman, "copy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{out}")
    manifest = json.loads((out / "manifest.json").read_bytes())

    def blob(desc: dict) -> bytes:
        return (out / desc["digest"].split(":")[1]).read_bytes()

    return blob(manifest["config"]), [blob(x) for x in manifest["layers"]]


@pytest.mark.parametrize(
    ("compress", "fmt", "layer_type"),
    [
        ("gzip", "oci", "application/vnd.oci.image.layer.v1.tar+gzip"),
        ("zstd", "oci", "application/vnd.oci.image.layer.v1.tar+zstd"),
        ("gzip", "v2s2", "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    ],
)
def test_pushed_image_reads_back_identical_with_skopeo(
    store, tmp_path, registry: Registry, podman: Podman, repo, compress, fmt, layer_type
):
    images = load_stack(store, tmp_path)
    top = images[-1]
    target = f"{registry.host}/{repo}:3"
    pushed = api.registry.push(
        store, "local/stack:3", target, compression=compress, manifest_format=fmt
    )
    assert pushed.reference == target
    raw_manifest = skopeo(podman, "inspect", "--tls-verify=false", "--raw", f"docker://{target}")
    assert sha256(raw_manifest.encode()) == pushed.digest
    manifest = json.loads(raw_manifest)
    assert {x["mediaType"] for x in manifest["layers"]} == {layer_type}
    assert remote_config(podman, f"docker://{target}") == top.config()

    config, layers = _copy_back(podman, target, tmp_path / "back")
    assert sha256(config) == top.id
    assert [sha256(_decompress(b)) for b in layers] == [sha256(x) for x in top.layers]
    # the registry holds exactly what the manifest pushed says (the kit's validator)
    back = tmp_path / "back"
    raw = (back / "manifest.json").read_bytes()
    named = {"digest": pushed.digest, "size": len(raw), "mediaType": manifest["mediaType"]}
    checked = validate_manifest(raw, lambda d: (back / d.split(":")[1]).open("rb"), named)
    assert checked.id == top.id


def test_skopeo_docker_archive_of_a_push_loads_back_with_same_id(
    store, tmp_path, registry: Registry, podman: Podman, repo
):
    load_stack(store, tmp_path)
    target = f"{registry.host}/{repo}:2"
    api.registry.push(store, "local/stack:2", target)
    archive = tmp_path / "back.tar"
    skopeo(
        podman, "copy", "--src-tls-verify=false", f"docker://{target}", f"docker-archive:{archive}"
    )
    other = api.open_store(tmp_path / "other")
    (loaded,) = api.load(other, str(archive))
    assert loaded.id == api.get_image(store, "local/stack:2").id
    assert [h.entry.created_by for h in api.history(other, loaded.id)] == [
        h.entry.created_by for h in api.history(store, "local/stack:2")
    ]


def test_second_push_uploads_nothing_and_shared_base_uploads_only_new_layers(
    store, tmp_path, registry: Registry, repo
):
    load_stack(store, tmp_path, 4)  # base + 3 layers; stack:1 has 2 layers
    target = f"{registry.host}/{repo}"

    def uploads() -> int:
        return registry.count("POST", f"/{repo}/blobs/uploads/")

    first = api.registry.push(store, "local/stack:1", f"{target}:1")
    assert uploads() == 3  # two layers + config
    assert [x.how for x in first.layers] == ["pushed", "pushed"]

    again = api.registry.push(store, "local/stack:1", f"{target}:1")
    assert uploads() == 3
    assert again.digest == first.digest
    assert {x.how for x in again.layers} == {"exists"}

    top = api.registry.push(store, "local/stack:3", f"{target}:3")
    assert uploads() == 3 + 3  # two new layers + the new config
    assert [x.how for x in top.layers] == ["exists", "exists", "pushed", "pushed"]


def test_push_to_another_repository_mounts(store, tmp_path, registry: Registry, repo):
    load_stack(store, tmp_path, 3)
    api.registry.push(store, "local/stack:2", f"{registry.host}/{repo}:2")
    other = repo + "-copy"
    pushed = api.registry.push(store, "local/stack:2", f"{registry.host}/{other}:2")
    assert {x.how for x in pushed.layers} == {"mounted"}
    assert {x.source for x in pushed.layers} == {repo}
    mounts = registry.count("POST", f"/{other}/blobs/uploads/?mount=")
    assert mounts == 4  # three layers and the config
    assert registry.count("POST", f"/{other}/blobs/uploads/") == mounts
    assert registry.count("PATCH", f"/{other}/") == registry.count("PUT", f"/{other}/blobs") == 0


def test_big_blob_goes_up_in_chunks(store, tmp_path, registry: Registry, podman: Podman, repo):
    image = big_image(store, tmp_path, size=600_000)
    target = f"{registry.host}/{repo}:1"
    api.registry.push(store, "local/big:1", target, compression="none", chunk_size=256 * 1024)
    assert registry.count("PATCH", f"/{repo}/blobs/uploads/") == 3  # 600 KB in 256 KiB chunks
    config, layers = _copy_back(podman, target, tmp_path / "back")
    assert sha256(config) == image.id
    assert [sha256(b) for b in layers] == [sha256(x) for x in image.layers]


def test_push_without_target_uses_the_image_name(store, tmp_path, registry: Registry, repo):
    load_stack(store, tmp_path, 2)
    name = f"{registry.host}/{repo}:1"
    api.tag(store, "local/stack:1", name)
    pushed = api.registry.push(store, name)
    assert pushed.reference == name
    assert registry.count("PUT", f"/{repo}/manifests/1") == 1


def test_v2s2_refuses_zstd_before_sending_anything(store, tmp_path, registry: Registry, repo):
    load_stack(store, tmp_path, 2)
    with pytest.raises(InvalidInputError, match="Docker manifests"):
        api.registry.push(
            store,
            "local/stack:1",
            f"{registry.host}/{repo}:1",
            compression="zstd",
            manifest_format="v2s2",
        )
    assert registry.count("POST", f"/{repo}/") == 0


def test_history_survives_the_trip(store, tmp_path, registry: Registry, podman: Podman, repo):
    images = load_stack(store, tmp_path, 3)
    target = f"{registry.host}/{repo}:2"
    api.registry.push(store, "local/stack:2", target)
    assert created_by(remote_config(podman, f"docker://{target}")) == created_by(
        images[-1].config()
    )
