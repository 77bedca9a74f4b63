"""One name per concept: short IDs, architecture names, exit codes of usage errors."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import lamina.api as api
from lamina import digest, mediatype, platforms
from lamina.errors import NotFoundError
from lamina.progress import Progress
from lamina.spec import Platform
from tests.builders import layer_tar
from tests.lamina_cli import run_lamina

HEX = "0123456789abcdef" * 4


def test_short_is_dockers_truncate_id():
    assert digest.short(f"sha256:{HEX}") == "0123456789ab"  # `docker images` IMAGE ID
    assert digest.short(HEX) == "0123456789ab"  # container IDs have no algorithm
    assert digest.short(f"sha256:{HEX}", algorithm=True) == "sha256:0123456789ab"
    assert digest.short(f"sha256:{HEX}", 8) == "01234567"
    assert digest.short("abc") == "abc"


@pytest.mark.parametrize(
    ("machine", "goarch", "variant"),
    [
        ("x86_64", "amd64", ""),
        ("aarch64", "arm64", ""),
        ("armv7l", "arm", "v7"),
        ("armv6l", "arm", "v6"),
        ("i686", "386", ""),
        ("i386", "386", ""),
        ("s390x", "s390x", ""),
    ],
)
def test_host_names_its_architecture_as_go_does(monkeypatch, machine, goarch, variant):
    monkeypatch.setattr(platform, "machine", lambda: machine)
    assert platforms.host() == (goarch, variant)
    assert platforms.host_architecture() == goarch


def test_platform_option_takes_the_names_docker_takes():
    assert Platform.parse("linux/x86_64") == Platform("linux", "amd64")
    assert Platform.parse("arm64") == Platform.parse("linux/arm64/v8") == Platform("linux", "arm64")
    assert Platform.parse("amd64") == Platform.parse("x86_64") == Platform("linux", "amd64")
    assert Platform.parse("linux/aarch64") == Platform("linux", "arm64")
    assert Platform.parse("linux/arm64/v8") == Platform("linux", "arm64")
    assert Platform.parse("linux/i386") == Platform("linux", "386")
    assert Platform.parse("linux/armhf") == Platform("linux", "arm", "v7")
    assert platforms.matches(("arm64", "v8"), ("arm64", ""))
    assert platforms.matches(("arm", "v7"), ("arm", ""))
    assert not platforms.matches(("arm", "v6"), ("arm", "v7"))


def _blob(root: Path, data: bytes) -> dict[str, object]:
    dig = "sha256:" + hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / dig[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": dig, "size": len(data)}


def _layout_for(root: Path, arches: list[str]) -> Path:
    """An OCI layout whose one tag is an index of one image per architecture."""
    layer = layer_tar({"etc/": None, "etc/os": b"multi\n"})
    entries = []
    for arch in arches:
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [_blob(root, layer)["digest"]]},
            }
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": mediatype.OCI_MANIFEST,
            "config": {"mediaType": mediatype.OCI_CONFIG, **_blob(root, config)},
            "layers": [{"mediaType": mediatype.OCI_LAYER, **_blob(root, layer)}],
        }
        desc = _blob(root, json.dumps(manifest).encode())
        entries.append(
            {
                "mediaType": mediatype.OCI_MANIFEST,
                **desc,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": entries}
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": mediatype.OCI_INDEX,
                **_blob(root, json.dumps(index).encode()),
                "annotations": {"io.containerd.image.name": "docker.io/local/multi:1"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(top))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return root


@pytest.mark.parametrize("machine", ["i686", "i386"])
def test_import_and_load_agree_on_a_32_bit_intel_host(tmp_path, monkeypatch, machine):
    """`import` labels the image 386 (Go's name) and `load` picks the 386 image of an index:
    both from one table (load looked for `i386` on an i386 host)."""
    monkeypatch.setattr(platform, "machine", lambda: machine)
    store = api.open_store(tmp_path / "store")
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(layer_tar({"hello": b"hi\n"}))
    imported = api.import_tar(store, str(tar), "local/imported:1")
    assert api.inspect(store, [imported])[0]["Architecture"] == "386"

    layout = _layout_for(tmp_path / "layout", ["amd64", "386", "arm64"])
    (loaded,) = api.load(store, str(layout))
    assert api.inspect(store, [loaded.id])[0]["Architecture"] == "386"

    monkeypatch.setattr(platform, "machine", lambda: "ppc64le")
    with pytest.raises(NotFoundError, match="has no image for linux/ppc64le"):
        api.load(store, str(layout))


def _on_a_terminal(store: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`lamina ARGS` with its standard output on a pseudo-terminal."""
    leader, follower = pty.openpty()
    try:
        return subprocess.run(
            [sys.executable, "-m", "lamina", "--store", str(store), *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["save", "local/any:1"], "refusing to write an archive to a terminal"),
        (["export", "any-container"], "refusing to write a tar to a terminal"),
    ],
)
def test_refusing_a_terminal_is_a_usage_error(tmp_path, args, message):
    cp = _on_a_terminal(tmp_path / "store", *args)
    assert cp.returncode == 2, cp.stderr
    assert cp.stderr.decode().strip().endswith(f"{message}: use -o FILE or a pipe")


@pytest.mark.parametrize(
    "args",
    [
        ["load", "--platform", "linux", "-i", "missing.tar"],
        ["pull", "--platform", "linux/amd64/v8/x", "localhost:1/x:1"],
    ],
)
def test_a_bad_platform_is_a_usage_error(tmp_path, args):
    cp = run_lamina(tmp_path / "store", *args)
    assert cp.returncode == 2, cp.stderr
    assert b"bad platform" in cp.stderr


def test_progress_closes_when_the_command_fails():
    closed = []

    class Recording(Progress):
        def close(self) -> None:
            closed.append(True)

    with pytest.raises(NotFoundError), Recording() as progress:
        progress.task("work", None).advance(1)
        raise NotFoundError("gone")
    assert closed == [True]
