"""Bad input gets one clear line, a meaningful exit code, and an untouched store."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.builders import docker_archive, sha, stack, store_files
from tests.lamina_cli import run_lamina


def rewrite_member(archive: Path, name: str, data: bytes) -> None:
    """Replace one member of a tar archive in place."""
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]
    with tarfile.open(archive, "w") as tar:
        for m, content in members:
            if m.name == name:
                content = data
                m.size = len(data)
            tar.addfile(m, io.BytesIO(content) if content is not None else None)


def oci_layout(tmp_path: Path) -> Path:
    """An OCI layout dir with one image (via lamina's own save, checked elsewhere)."""
    store = tmp_path / "src"
    run_lamina(store, "load", "-i", str(docker_archive(stack(2), tmp_path / "a.tar")), check=True)
    out = tmp_path / "layout"
    run_lamina(store, "save", "--format", "oci-dir", "-o", str(out), "local/stack:1", check=True)
    return out


def load_fails(tmp_path: Path, source: Path, code: int, *words: str) -> str:
    store = tmp_path / "store"
    run_lamina(store, "images")  # create it
    before = store_files(store)
    cp = run_lamina(store, "load", "-i", str(source))
    err = cp.stderr.decode()
    assert cp.returncode == code, err
    assert err.startswith("lamina: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err
    assert cp.stdout == b""
    assert store_files(store) == before
    return err


def test_malformed_manifest_json(tmp_path):
    archive = docker_archive(stack(2), tmp_path / "a.tar")
    rewrite_member(archive, "manifest.json", b"[{not json")
    load_fails(tmp_path, archive, 5, "manifest.json", "not valid JSON")


def test_config_is_identified_by_its_content_not_its_file_name(tmp_path):
    """Docker's loader hashes the config's bytes and never reads its file name
    (go-containerregistry writes archives whose config name is not the digest)."""
    images = stack(2)
    archive = docker_archive(images, tmp_path / "a.tar")
    name = images[1].id[7:] + ".json"
    changed = images[1].config().replace(b"step 1", b"step X")
    rewrite_member(archive, name, changed)
    store = tmp_path / "store"
    run_lamina(store, "load", "-i", str(archive), check=True)
    shown = run_lamina(store, "inspect", "local/stack:1", check=True)
    assert json.loads(shown.stdout)[0]["Id"] == sha(changed)


def test_config_missing_diff_ids(tmp_path):
    images = stack(2)
    archive = docker_archive(images, tmp_path / "a.tar")
    manifest = [{"Config": "c.json", "RepoTags": ["x/y:1"], "Layers": []}]
    rewrite_member(archive, "manifest.json", json.dumps(manifest).encode())
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo("c.json")
        data = b'{"architecture": "amd64", "os": "linux"}'
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    load_fails(tmp_path, archive, 5, "rootfs.diff_ids")


def test_unknown_layer_media_type(tmp_path):
    layout = oci_layout(tmp_path)
    index = json.loads((layout / "index.json").read_bytes())
    mdig = index["manifests"][0]["digest"]
    manifest_path = layout / "blobs" / "sha256" / mdig[7:]
    manifest = json.loads(manifest_path.read_bytes())
    manifest["layers"][0]["mediaType"] = "application/vnd.example.squashfs"
    raw = json.dumps(manifest).encode()
    (layout / "blobs" / "sha256" / sha(raw)[7:]).write_bytes(raw)
    index["manifests"][0].update(digest=sha(raw), size=len(raw))
    (layout / "index.json").write_text(json.dumps(index))
    load_fails(tmp_path, layout, 5, "unknown layer media type", "squashfs")


def test_unknown_manifest_media_type_is_ignored_as_the_oci_spec_says(tmp_path):
    """"An encountered mediaType that is unknown MUST be ignored": alone, the layout
    holds no image (5); beside an image, that image still loads."""
    layout = oci_layout(tmp_path)
    index = json.loads((layout / "index.json").read_bytes())
    image = dict(index["manifests"][0])
    index["manifests"][0]["mediaType"] = "application/vnd.example.thing+json"
    (layout / "index.json").write_text(json.dumps(index))
    load_fails(tmp_path, layout, 5, "holds no images")
    index["manifests"].append(image)
    (layout / "index.json").write_text(json.dumps(index))
    store = tmp_path / "store2"
    loaded = run_lamina(store, "load", "-i", str(layout))
    assert loaded.returncode == 0, loaded.stderr
    assert b"local/stack " in run_lamina(store, "images", check=True).stdout


def test_corrupt_blob_in_layout(tmp_path):
    layout = oci_layout(tmp_path)
    blobs = sorted((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    biggest = blobs[-1]  # the base layer
    data = bytearray(biggest.read_bytes())
    data[600] ^= 0xFF
    biggest.write_bytes(bytes(data))
    load_fails(tmp_path, layout, 5, "corrupt", "expected sha256:")


def test_not_an_archive(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x00" * 10)
    load_fails(tmp_path, junk, 5)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        tar.addfile(info, io.BytesIO(b""))
    load_fails(tmp_path, plain, 5, "not an image archive")


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["inspect", "nope:1"], 3, "No such image: nope:1"),
        (["container", "inspect", "nope:1"], 3, "No such container: nope:1"),
        (["history", "deadbeef"], 3, "No such image"),
        (["tag", "nope", "x:1"], 3, "No such image"),
        (["tag", "local/base:1", "Bad Name"], 2, "invalid reference"),
        (["rmi", "nope"], 3, "No such image"),
        (["save", "-o", "/dev/null", "nope"], 3, "No such image"),
    ],
)
def test_cli_errors_are_one_line_with_exit_codes(tmp_path, args, code, text):
    store = tmp_path / "s"
    run_lamina(store, "load", "-i", str(docker_archive(stack(1), tmp_path / "a.tar")), check=True)
    cp = run_lamina(store, *args)
    err = cp.stderr.decode()
    assert cp.returncode == code, err
    assert text in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_damaged_compressed_layer(tmp_path, kind):
    """A compressed layer whose bytes are damaged fails cleanly, whatever the codec."""
    import gzip

    import zstandard

    images = stack(2)
    plain = images[1].layers[1]
    packed = gzip.compress(plain, mtime=0) if kind == "gzip" else zstandard.compress(plain)
    damaged = packed[:12] + bytes(b ^ 0x55 for b in packed[12:40]) + packed[40:]
    archive = docker_archive(images, tmp_path / "a.tar")
    rewrite_member(archive, f"{sha(plain)[7:]}/layer.tar", damaged)
    load_fails(tmp_path, archive, 5, sha(plain)[:19])
