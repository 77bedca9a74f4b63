"""The kit against real tools: a random image keeps its ID through lamina and Docker, and
what Docker and skopeo make of lamina's outputs validates too."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lamina
from tests.kit import docker_archive, random_image, validate_archive, validate_layout

TAG = "kit/peer:1"


def test_random_image_saved_by_lamina_loads_in_docker_with_its_id(clean_docker, tmp_path: Path):
    img = random_image(31, layers=4, empty=2, tags=[TAG])
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(docker_archive([img], tmp_path / "in.tar", layout="podman")))
    out = tmp_path / "lamina.tar"
    lamina.save(store, [TAG], out)
    assert [c.id for c in validate_archive(out)] == [img.id]
    clean_docker.run("load", "-i", str(out))
    got = clean_docker.run("image", "inspect", "--format", "{{.Id}}", TAG).stdout.strip()
    assert got == img.id
    theirs = tmp_path / "docker.tar"  # and Docker's own save of it is valid, same ID
    clean_docker.run("save", "-o", str(theirs), TAG)
    assert [c.id for c in validate_archive(theirs)] == [img.id]


def test_skopeo_reads_lamina_oci_outputs(podman, tmp_path: Path):
    img = random_image(32, layers=3, empty=1, tags=[TAG])
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(docker_archive([img], tmp_path / "in.tar")))
    lamina.save(store, [TAG], tmp_path / "o.tar", fmt="oci-archive")
    lamina.save(store, [TAG], tmp_path / "od", fmt="oci-dir")
    sources = {
        "oci-archive": f"oci-archive:{tmp_path / 'o.tar'}:{TAG}",
        "oci-dir": f"oci:{tmp_path / 'od'}:{TAG}",
        "store": f"oci:{store.root}:{TAG}",
    }
    for what, src in sources.items():
        raw = podman.run("skopeo", "inspect", "--raw", "--config", src, text=False).stdout
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == img.id, what
        copied = tmp_path / f"copy-{what}"  # skopeo's gzip re-encoding of it validates
        podman.run("skopeo", "copy", src, f"oci:{copied}:{TAG}")
        assert [c.id for c in validate_layout(copied)] == [img.id], what
