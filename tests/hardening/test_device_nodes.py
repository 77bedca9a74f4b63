"""Device nodes in a layer, `create` as root: Docker 20.10 creates them with the layer's
numbers and modes (checked: `docker create` + `docker export`, and its vfs layer dirs
show crw-rw-rw- 1,1 for a /dev/mem at 0666); at run time both hide the image's /dev
under a tmpfs. lamina does the same."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.builders import FakeImage, docker_archive, stack
from tests.lamina_cli import run_lamina
from tests.peers import Docker

NODES = [
    ("dev/mem", tarfile.CHRTYPE, 1, 1, 0o666),
    ("dev/blk", tarfile.BLKTYPE, 254, 0, 0o660),
    ("dev/fifo", tarfile.FIFOTYPE, 0, 0, 0o644),
]


def device_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo("dev/")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(d)
        for name, kind, major, minor, mode in NODES:
            info = tarfile.TarInfo(name)
            info.type, info.devmajor, info.devminor, info.mode = kind, major, minor, mode
            tar.addfile(info)
    return buf.getvalue()


def nodes(exported: bytes) -> dict[str, tuple[bytes, int, int, int]]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        for m in tar:
            name = m.name.removeprefix("./")
            if name in {n for n, *_ in NODES}:
                out[name] = (m.type, m.mode & 0o7777, m.devmajor, m.devminor)
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")
def test_create_makes_device_nodes_as_docker_does(tmp_path: Path, clean_docker: Docker) -> None:
    (base,) = stack(1)
    archive = docker_archive(
        [FakeImage([base.layers[0], device_layer()], ["local/dev:1"])], tmp_path / "a.tar"
    )
    clean_docker.run("load", "-i", str(archive))
    cid = clean_docker.run("create", "local/dev:1", "/bin/sh").stdout.strip()
    theirs = subprocess.run(
        [clean_docker.cli, "export", cid], env=clean_docker.env, capture_output=True, check=True
    ).stdout
    store = tmp_path / "s"
    run_lamina(store, "load", "-i", str(archive), check=True)
    run_lamina(store, "create", "--name", "ctr", "local/dev:1", check=True)
    ours = run_lamina(store, "export", "ctr", check=True).stdout
    assert nodes(ours) == nodes(theirs)
    assert nodes(ours)["dev/mem"] == (tarfile.CHRTYPE, 0o666, 1, 1)
