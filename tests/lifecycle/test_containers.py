"""Containers without root: create, cp, commit, ps, rm, prune, export/import, and the
removal rules once containers use images (Docker's, checked against Docker 20.10)."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest
import zstandard

import lamina
from tests.builders import docker_archive, stack
from tests.kit import validate_store
from tests.lamina_cli import run_lamina
from tests.lifecycle.helpers import entry, fs_of_tar, out, raw_tar

ID = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, list]:
    images = stack(3)  # local/base:1, local/stack:1, local/stack:2
    store = tmp_path / "s"
    out(store, "load", "-i", str(docker_archive(images, tmp_path / "a.tar")))
    return store, images


def put(store: Path, tmp: Path, container: str, path: str, text: str) -> None:
    src = tmp / "payload"
    src.write_text(text)
    out(store, "cp", str(src), f"{container}:{path}")


def test_create_materialises_and_names(seeded, tmp_path):
    store, images = seeded
    ident = out(store, "create", "--name", "box", "local/stack:2").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", ident)
    c = lamina.get_container(lamina.open_store(store), "box")
    assert (c.rootfs / "file1").read_text() == "1\n" and (c.rootfs / "bin" / "sh").exists()
    assert c.image_id == images[2].id and c.id == ident
    other = out(store, "create", "local/base:1").strip()
    name = lamina.get_container(lamina.open_store(store), other[:10]).name
    assert re.fullmatch(r"[a-z]+_[a-z]+\d?", name)
    cp = run_lamina(store, "create", "--name", "box", "local/base:1")
    assert cp.returncode == 4 and b"already in use" in cp.stderr
    rows = json.loads(out(store, "ps", "-a", "--json"))
    assert [r["Names"] for r in rows] == [[name], ["box"]]  # newest first
    assert rows[1]["Image"] == "local/stack:2" and rows[1]["Status"] == "Created"
    assert out(store, "ps").splitlines()[1:] == []  # none running
    table = out(store, "ps", "-a").splitlines()
    assert table[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"] and "box" in table[2]


def test_commit_cp_and_history(seeded, tmp_path):
    store, images = seeded
    out(store, "create", "--name", "box", "local/stack:2")
    put(store, tmp_path, "box", "/file3", "3\n")
    image_id = out(store, "commit", "-m", "third file", "-a", "Jane", "box", "local/stack:3")
    assert ID.fullmatch(image_id.strip())
    doc = json.loads(out(store, "inspect", "local/stack:3"))[0]
    assert doc["Id"] == image_id.strip() and doc["Parent"] == images[2].id
    assert (
        doc["Author"] == "Jane"
        and doc["Container"] == lamina.get_container(lamina.open_store(store), "box").id
    )
    rows = json.loads(out(store, "history", "--json", "local/stack:3"))
    assert (rows[0]["CreatedBy"], rows[0]["Comment"]) == ("sh", "third file")
    assert len(rows) == 4
    # the new layer holds exactly the change
    s = lamina.open_store(store)
    top = s.layer_path(doc["RootFS"]["Layers"][-1])
    assert set(fs_of_tar(top)) == {"file3"}
    assert s.indexes.load(doc["RootFS"]["Layers"][-1]) is not None  # indexed as it came in
    # a commit with no change adds no layer, like Docker
    out(store, "create", "--name", "idle", "local/stack:3")
    same = json.loads(out(store, "inspect", out(store, "commit", "idle").strip()))[0]
    assert same["RootFS"]["Layers"] == doc["RootFS"]["Layers"]
    assert images[2].id in {c.id for c in validate_store(s)}


def test_deletions_become_whiteouts(seeded, tmp_path):
    store, _ = seeded
    out(store, "create", "--name", "box", "local/stack:2")
    root = lamina.get_container(lamina.open_store(store), "box").rootfs
    (root / "file1").unlink()
    (root / "etc" / "os").unlink()
    (root / "etc" / "os").mkdir()  # file -> dir
    (root / "etc" / "os" / "inside").write_text("x")
    image_id = out(store, "commit", "box").strip()
    out(store, "create", "--name", "check", image_id)
    got = lamina.get_container(lamina.open_store(store), "check").rootfs
    assert not (got / "file1").exists() and (got / "file2").exists()
    assert (got / "etc" / "os" / "inside").read_text() == "x"
    assert image_id in {c.id for c in validate_store(lamina.open_store(store))}


def test_rmi_rules_with_containers(seeded):
    """As Docker 20.10 does (checked by hand and in test_docker_parity)."""
    store, images = seeded
    out(store, "create", "--name", "box", "local/stack:2")
    cp = run_lamina(store, "rmi", "local/stack:2")
    assert cp.returncode == 4
    assert b'unable to remove repository reference "local/stack:2" (must force)' in cp.stderr
    cp = run_lamina(store, "rmi", images[2].id[7:19])
    assert cp.returncode == 4 and b"being used by stopped container" in cp.stderr
    assert "local/stack" in out(store, "images")  # nothing changed
    # the parent of a container's image is protected too (it has a child)
    assert out(store, "rmi", "local/stack:1").splitlines() == ["Untagged: local/stack:1"]
    # -f deletes the image a stopped container uses, but not the layers it holds
    # (and its untagged parent, which nothing needs now: Docker does the same)
    lines = out(store, "rmi", "-f", "local/stack:2").splitlines()
    assert lines == [
        "Untagged: local/stack:2",
        f"Deleted: {images[2].id}",
        f"Deleted: {images[1].id}",
    ]
    assert images[2].id[7:19] in out(store, "ps", "-a")  # the IMAGE column falls back to the ID
    out(store, "commit", "box", "again:1")  # the container still has what commit needs
    lines = out(store, "rmi", "again:1").splitlines()  # no layer lines: `box` holds them
    assert lines[0] == "Untagged: again:1" and len(lines) == 2
    s = lamina.open_store(store)
    held = json.loads(images[2].config())["rootfs"]["diff_ids"]
    assert all(s.has_layer(d) for d in held)
    out(store, "rm", "box")  # the last holder: its layers go (as Docker's RW layer releases them)
    assert [s.has_layer(d) for d in held] == [True, False, False]
    assert not s.blobs.has(images[2].id)


def test_image_prune_spares_what_containers_use(seeded):
    store, images = seeded
    out(store, "create", "--name", "box", "local/stack:1")
    lines = out(store, "image", "prune", "-a", "-f").splitlines()
    assert f"deleted: {images[2].id}" in lines
    assert all(images[1].id not in ln and images[0].id not in ln for ln in lines)
    remaining = out(store, "images", "-a", "-q", "--no-trunc").split()
    assert sorted(remaining) == sorted([images[0].id, images[1].id])


def test_rm_and_container_prune(seeded):
    store, _ = seeded
    for name in ("ca", "cb", "cc"):
        out(store, "create", "--name", name, "local/base:1")
    assert out(store, "rm", "ca").strip() == "ca"
    cp = run_lamina(store, "rm", "nope")
    assert cp.returncode == 3 and b"No such container: nope" in cp.stderr
    lines = out(store, "container", "prune", "-f").splitlines()
    assert lines[0] == "Deleted Containers:" and len(lines) == 5
    assert lines[-1].startswith("Total reclaimed space: ")
    assert out(store, "ps", "-a", "-q") == ""
    left = list((store / "lamina" / "containers").iterdir())
    assert left == []


def test_export_then_import(seeded, tmp_path):
    store, _ = seeded
    out(store, "create", "--name", "box", "local/stack:2")
    exported = run_lamina(store, "export", "box").stdout
    names = set(fs_of_tar(exported))
    assert {"file1", "file2", "bin/sh", "etc/os"} <= names
    for kind, data in (
        ("plain", exported),
        ("gzip", gzip.compress(exported)),
        ("zstd", zstandard.ZstdCompressor().compress(exported)),
    ):
        (tmp_path / kind).write_bytes(data)
        image_id = out(store, "import", str(tmp_path / kind), f"flat:{kind}").strip()
        doc = json.loads(out(store, "inspect", f"flat:{kind}"))[0]
        assert doc["Id"] == image_id and len(doc["RootFS"]["Layers"]) == 1
    rows = json.loads(out(store, "history", "--json", "flat:plain"))
    assert [(r["CreatedBy"], r["Comment"]) for r in rows] == [("", "Imported from -")]
    image_id = out(store, "import", "-m", "from Bob", "-c", "CMD sh", "-", input=exported).strip()
    doc = json.loads(out(store, "inspect", image_id))[0]
    assert doc["Comment"] == "from Bob" and doc["Config"]["Cmd"] == ["/bin/sh", "-c", "sh"]
    assert image_id in {c.id for c in validate_store(lamina.open_store(store))}


@pytest.mark.parametrize(
    "evil",
    [
        [entry("../escaped")],
        [entry("ok/../../escaped")],
        [entry("target"), entry("hl", tarfile.LNKTYPE, link="../../etc/passwd")],
    ],
)
def test_import_refuses_escaping_entries(seeded, tmp_path, evil):
    store, _ = seeded
    before = sorted(os.listdir(store / "blobs" / "sha256"))
    (tmp_path / "evil.tar").write_bytes(raw_tar(*evil))
    cp = run_lamina(store, "import", str(tmp_path / "evil.tar"), "evil:1")
    assert cp.returncode == 5 and b"outside the root" in cp.stderr
    assert sorted(os.listdir(store / "blobs" / "sha256")) == before


def test_import_rejects_garbage(seeded, tmp_path):
    store, _ = seeded
    zst = zstandard.ZstdCompressor().compress(os.urandom(5000))
    broken = zst[:20] + bytes(len(zst) - 20)
    for data in (b"", b"not a tar at all" * 100, gzip.compress(b"x" * 5000)[:100], broken):
        cp = run_lamina(store, "import", "-", "junk:1", input=data)
        assert cp.returncode == 5, cp.stderr
        assert len(cp.stderr.decode().strip().splitlines()) == 1


def test_tar_helper_reads_hardlinks():
    data = raw_tar(entry("a", data=b"x"), entry("b", tarfile.LNKTYPE, link="a"))
    fs = fs_of_tar(data)
    assert fs["a"] == fs["b"]
    assert io.BytesIO(data).read(1)
