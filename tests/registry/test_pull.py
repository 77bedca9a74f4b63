"""lamina pull from the real distribution registry, of images pushed by skopeo and by lamina."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import lamina.api as api
from lamina.cli import main
from lamina.errors import LaminaError, NotFoundError, RegistryError
from lamina.layer import indexfile
from lamina.layer.headerindex import HeaderIndex
from lamina.spec import Platform
from tests.builders import FakeImage, docker_archive, layer_tar, stack, store_files
from tests.fixtures.build import FixtureSet
from tests.kit import validate_store
from tests.peers import Podman, Registry, free_port
from tests.registry.conftest import created_by, load_stack, remote_config, sha256, skopeo


def skopeo_push(podman: Podman, source: str, dest: str, *args: str) -> None:
    skopeo(podman, "copy", "--dest-tls-verify=false", *args, source, f"docker://{dest}")


def registry_blob(registry: Registry, dig: str) -> Path:
    hexpart = dig.split(":")[1]
    (found,) = registry.root.rglob(f"blobs/sha256/{hexpart[:2]}/{hexpart}/data")
    return found


@pytest.mark.parametrize(("fmt", "compress"), [("v2s2", "gzip"), ("oci", "gzip"), ("oci", "zstd")])
def test_pull_of_skopeo_pushed_image_keeps_id_and_history(
    store, registry: Registry, podman: Podman, fixtures: FixtureSet, repo, fmt, compress
):
    fixture = fixtures["skopeo-docker"]
    ref = f"{registry.host}/{repo}:3"
    skopeo_push(
        podman,
        f"docker-archive:{fixture.path}",
        ref,
        "--format",
        fmt,
        "--dest-compress-format",
        compress,
    )
    config = remote_config(podman, f"docker://{ref}")
    pulled = api.registry.pull(store, ref)
    assert pulled.id == sha256(config)
    assert pulled.name == ref
    if fmt == "v2s2":
        assert pulled.id == fixture.image.id  # skopeo keeps a Docker config as it is
    stored = api.get_image(store, ref)
    assert list(stored.image.diff_ids) == fixture.image.diff_ids
    history = [h.entry.created_by for h in api.history(store, ref)]
    assert history == list(reversed(created_by(config)))
    raw = skopeo(podman, "inspect", "--tls-verify=false", "--raw", f"docker://{ref}")
    assert pulled.digest == sha256(raw.encode())
    assert [c.id for c in validate_store(store)] == [pulled.id]


def push_multi_platform(
    layout: Path, registry: Registry, podman: Podman, fixtures: FixtureSet, repo: str
) -> str:
    """skopeo pushes an index: base-skopeo as linux/arm64/v8, skopeo-docker as linux/amd64."""
    base, top = fixtures["base-skopeo"], fixtures["skopeo-docker"]
    skopeo(podman, "copy", f"docker-archive:{base.path}", f"oci:{layout}:base")
    skopeo(podman, "copy", f"docker-archive:{top.path}", f"oci:{layout}:top")
    _make_index(layout, {"base": ("linux", "arm64", "v8"), "top": ("linux", "amd64", "")})
    ref = f"{registry.host}/{repo}:multi"
    skopeo_push(podman, f"oci:{layout}:multi", ref, "--all")
    return ref


def test_pull_multi_platform_index_made_by_skopeo(
    store, tmp_path, registry: Registry, podman: Podman, fixtures: FixtureSet, repo
):
    layout = tmp_path / "layout"
    ref = push_multi_platform(layout, registry, podman, fixtures, repo)

    raw_index = skopeo(podman, "inspect", "--tls-verify=false", "--raw", f"docker://{ref}")
    assert "manifests" in json.loads(raw_index)
    arm = api.registry.pull(store, ref, platform=Platform.parse("linux/arm64/v8"))
    arm_config = remote_config(podman, f"docker://{ref}")  # skopeo picks the host's: amd64
    assert arm.digest == sha256(raw_index.encode())
    assert arm.id == sha256(_config_in(layout, "base"))
    amd = api.registry.pull(store, ref, platform=Platform.parse("linux/amd64"))
    assert amd.id == sha256(_config_in(layout, "top")) == sha256(arm_config)
    assert api.get_image(store, ref).id == amd.id  # the tag moved to the amd64 image
    assert {c.id for c in validate_store(store)} == {arm.id, amd.id}
    with pytest.raises(NotFoundError, match="linux/s390x"):
        api.registry.pull(store, ref, platform=Platform.parse("linux/s390x"))


def _manifest_of(layout: Path, name: str) -> dict:
    index = json.loads((layout / "index.json").read_bytes())
    (desc,) = [
        d
        for d in index["manifests"]
        if d["annotations"]["org.opencontainers.image.ref.name"] == name
    ]
    return desc


def _config_in(layout: Path, name: str) -> bytes:
    desc = _manifest_of(layout, name)
    manifest = json.loads((layout / "blobs/sha256" / desc["digest"][7:]).read_bytes())
    return (layout / "blobs/sha256" / manifest["config"]["digest"][7:]).read_bytes()


def _make_index(layout: Path, platforms: dict[str, tuple[str, str, str]]) -> None:
    """Add an image index named `multi` that lists the named images with these platforms."""
    entries = []
    for name, (os_, arch, variant) in platforms.items():
        d = dict(_manifest_of(layout, name))
        d.pop("annotations")
        d["platform"] = {
            "os": os_,
            "architecture": arch,
            **({"variant": variant} if variant else {}),
        }
        entries.append(d)
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    (layout / "blobs/sha256" / sha256(raw)[7:]).write_bytes(raw)
    index = json.loads((layout / "index.json").read_bytes())
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": sha256(raw),
            "size": len(raw),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }
    )
    (layout / "index.json").write_text(json.dumps(index))


def test_pull_downloads_only_missing_layers(store, tmp_path, registry: Registry, repo):
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 4)
    api.registry.push(sender, "local/stack:3", f"{registry.host}/{repo}:3")
    api.load(store, str(docker_archive(stack(2), tmp_path / "have.tar")))  # base + layer 1
    pulled = api.registry.pull(store, f"{registry.host}/{repo}:3")
    assert pulled.new_layers == 2
    assert registry.count("GET", f"/{repo}/blobs/") == 3  # two layers and the config
    assert pulled.id == api.get_image(sender, "local/stack:3").id
    for layer in api.get_image(store, pulled.id).image.layers:  # each indexed as it came in
        assert store.indexes.load(layer.diff_id) is not None
    again = api.registry.pull(store, f"{registry.host}/{repo}:3")
    assert again.new_layers == 0 and again.up_to_date and not again.replaced
    assert registry.count("GET", f"/{repo}/blobs/") == 4  # only the config again


def test_push_after_pull_mounts_everything(
    store, registry: Registry, podman: Podman, fixtures: FixtureSet, repo
):
    ref = f"{registry.host}/{repo}:3"
    skopeo_push(podman, f"docker-archive:{fixtures['skopeo-docker'].path}", ref)
    api.registry.pull(store, ref)
    other = repo + "-again"
    pushed = api.registry.push(store, ref, f"{registry.host}/{other}:3")
    assert {x.how for x in pushed.layers} == {"mounted"}
    assert pushed.result.config.how == "mounted"
    mounts = registry.count("POST", f"/{other}/blobs/uploads/?mount=")
    assert mounts == len(pushed.layers) + 1
    assert registry.count("POST", f"/{other}/blobs/uploads/") == mounts
    assert registry.count("PUT", f"/{other}/blobs/") == 0
    # same blobs, so the pushed manifest lists what skopeo pushed
    raw = skopeo(podman, "inspect", "--tls-verify=false", "--raw", f"docker://{ref}")
    assert [x["digest"] for x in json.loads(raw)["layers"]] == [x.digest for x in pushed.layers]


@pytest.mark.parametrize("damage", ["flip", "truncate", "flip-uncompressed"])
def test_failed_pull_leaves_the_store_unchanged(
    store, tmp_path, start_registry: Callable[..., Registry], repo, damage
):
    registry = start_registry()  # its own: the damaged blob must not poison other tests
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 4)
    compression = "none" if damage == "flip-uncompressed" else "gzip"
    ref = f"{registry.host}/{repo}:3"
    pushed = api.registry.push(sender, "local/stack:3", ref, compression=compression)
    api.load(store, str(docker_archive(stack(2), tmp_path / "have.tar")))
    before = store_files(store.root)
    blob = registry_blob(registry, pushed.layers[2].digest)
    data = bytearray(blob.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x55
    blob.write_bytes(bytes(data))
    with pytest.raises(LaminaError) as err:
        api.registry.pull(store, ref)
    assert err.value.exit_code == 5  # invalid input: corrupt or truncated
    assert store_files(store.root) == before
    left = [p for p in (store.root / "lamina" / "tmp").rglob("*") if p != store.tmp]
    assert left == []  # only this live process's own temp dir (empty) remains


def test_pull_errors_are_clear(store, registry: Registry, repo, capsys):
    with pytest.raises(NotFoundError, match="not found"):
        api.registry.pull(store, f"{registry.host}/{repo}:nope")
    port = free_port()  # nothing listens there
    with pytest.raises(RegistryError, match=f"cannot reach registry 127.0.0.1:{port}"):
        api.registry.pull(store, f"127.0.0.1:{port}/x:1")
    code = main(["--store", str(store.root), "pull", f"{registry.host}/{repo}:nope"])
    assert code == 3
    assert "MANIFEST_UNKNOWN" in capsys.readouterr().err
    assert main(["--store", str(store.root), "pull", f"127.0.0.1:{port}/x:1"]) == 7


def test_digest_pull_stays_untagged(store, tmp_path, registry: Registry, repo):
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 2)
    pushed = api.registry.push(sender, "local/stack:1", f"{registry.host}/{repo}:1")
    pulled = api.registry.pull(store, f"{registry.host}/{repo}@{pushed.digest}")
    assert pulled.name == "" and pulled.digest == pushed.digest
    (row,) = api.images(store, all=True)
    assert row.id == pulled.id and row.tag == "<none>"


def test_cli_push_and_pull_print_like_docker(store, tmp_path, registry: Registry, repo, capsys):
    load_stack(store, tmp_path, 2)
    ref = f"{registry.host}/{repo}:1"
    assert main(["--store", str(store.root), "push", "local/stack:1", ref]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"The push refers to repository [{registry.host}/{repo}]"
    assert out[1].endswith(": Pushed")
    tag, _, digest, _, size = out[-1].split()
    assert (tag, len(digest)) == ("1:", 71) and int(size) > 0
    other = tmp_path / "other"
    assert main(["--store", str(other), "pull", "-q", ref]) == 0
    assert capsys.readouterr().out == f"{ref}\n"
    shutil.rmtree(other)


@pytest.mark.parametrize("compression", ["none", "zstd", "gzip"])
def test_lamina_round_trip_any_compression(store, tmp_path, registry: Registry, repo, compression):
    sender = api.open_store(tmp_path / "sender")
    load_stack(sender, tmp_path, 3)
    ref = f"{registry.host}/{repo}:2"
    pushed = api.registry.push(sender, "local/stack:2", ref, compression=compression)
    pulled = api.registry.pull(store, ref)
    assert pulled.id == api.get_image(sender, "local/stack:2").id
    assert pulled.digest == pushed.digest and pulled.new_layers == 3
    stored = api.get_image(store, ref).image
    assert stored.diff_ids == api.get_image(sender, "local/stack:2").image.diff_ids
    assert [c.id for c in validate_store(store)] == [pulled.id]


def test_a_pulled_layer_s_index_spills_and_is_the_in_memory_one(
    store, tmp_path, registry: Registry, repo, monkeypatch
):
    layer = layer_tar({f"d/f{i:04d}": b"" for i in range(600)})
    sender = api.open_store(tmp_path / "sender")
    archive = docker_archive([FakeImage([layer], ["local/many:1"])], tmp_path / "m.tar")
    api.load(sender, str(archive))
    api.registry.push(sender, "local/many:1", f"{registry.host}/{repo}:1")
    monkeypatch.setattr(indexfile, "BOUND", 4096)
    spills: list[int] = []
    real = indexfile.IndexBuilder._spill
    monkeypatch.setattr(indexfile.IndexBuilder, "_spill", lambda b: spills.append(1) or real(b))
    pulled = api.registry.pull(store, f"{registry.host}/{repo}:1")
    (diff_id,) = api.get_image(store, pulled.id).image.diff_ids
    with open(store.layer_path(diff_id), "rb") as f:
        expected = HeaderIndex.of(f).to_bytes(diff_id)
    assert store.indexes.path(diff_id).read_bytes() == expected
    assert len(spills) > 5
    assert [p for p in store.tmp_root.rglob("*") if p.is_file()] == []
