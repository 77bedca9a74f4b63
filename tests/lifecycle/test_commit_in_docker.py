"""Layers lamina commits, loaded into the REAL Docker 20.10, give lamina's filesystem.

Two commits on the busybox base: the first lays out files, directories, hardlinks
and symlinks; the second deletes some (a file from a lower layer, a directory with
its contents, a base file), replaces others (dir -> file, file -> dir, a directory
deleted and made again), changes content and metadata only, re-targets a symlink
and adds a hardlink. Then `lamina save | docker load`, `docker create`, `docker
export`, compared with `lamina export` of the container: names, types, modes,
owners, sizes, content hashes and link targets (Docker's runtime files left out).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import lamina
from tests.kit import validate_archive, validate_store
from tests.lamina_cli import run_lamina
from tests.lifecycle.helpers import fs_of_tar, out


def lay_out(root: Path) -> None:
    srv = root / "srv"
    for d in ("dir", "gone/sub", "dir2file", "opq", "emptydir"):
        (srv / d).mkdir(parents=True)
    files = {
        "dir/a": "a\n",
        "dir/b": "b\n",
        "gone/x": "x\n",
        "gone/sub/y": "y\n",
        "file2dir": "was a file\n",
        "dir2file/child": "child\n",
        "lowerfile": "lower\n",
        "meta": "metadata only\n",
        "h1": "hard\n",
        "opq/old1": "1",
        "opq/old2": "2",
    }
    for name, text in files.items():
        (srv / name).write_text(text)
    os.chmod(srv / "meta", 0o644)
    os.link(srv / "h1", srv / "h2")
    (srv / "link").symlink_to("dir/a")
    (srv / "dangling").symlink_to("/nowhere")


def change(root: Path) -> None:
    srv = root / "srv"
    shutil.rmtree(srv / "gone")
    (srv / "lowerfile").unlink()
    (root / "bin" / "ls").unlink()  # a file of the base image
    (srv / "file2dir").unlink()
    (srv / "file2dir").mkdir()
    (srv / "file2dir" / "inner").write_text("now a dir\n")
    shutil.rmtree(srv / "dir2file")
    (srv / "dir2file").write_text("now a file\n")
    shutil.rmtree(srv / "opq")
    (srv / "opq").mkdir()
    (srv / "opq" / "new").write_text("new\n")
    os.chmod(srv / "meta", 0o600)
    (srv / "dir" / "a").write_text("A2, longer than before\n")
    os.link(srv / "h1", srv / "h3")
    (srv / "link").unlink()
    (srv / "link").symlink_to("dir/b")
    (srv / "new" / "deep").mkdir(parents=True)
    (srv / "new" / "deep" / "file").write_bytes(os.urandom(100_000))
    os.chmod(srv / "new", 0o700)


def rootfs(store: Path, name: str) -> Path:
    return lamina.get_container(lamina.open_store(store), name).rootfs


def test_committed_layers_give_the_same_filesystem_in_docker(clean_docker, fixtures, tmp_path):
    store = tmp_path / "store"
    out(store, "load", "-i", str(fixtures["base-skopeo"].path))
    out(store, "create", "--name", "c1", "local/base:1")
    lay_out(rootfs(store, "c1"))
    out(store, "commit", "c1", "local/lower:1")
    out(store, "create", "--name", "c2", "local/lower:1")
    change(rootfs(store, "c2"))
    out(store, "commit", "-m", "the changes", "c2", "local/upper:1")
    ours = fs_of_tar(run_lamina(store, "export", "c2").stdout)
    assert "srv/gone" not in ours and "bin/ls" not in ours and "srv/opq/old1" not in ours
    assert ours["srv/file2dir"][0] == "dir" and ours["srv/dir2file"][0] == "file"
    assert ours["srv/meta"][1] == 0o600 and ours["srv/link"][5] == "dir/b"

    archive = tmp_path / "upper.tar"
    out(store, "save", "-o", str(archive), "local/upper:1")
    upper = lamina.get_image(lamina.open_store(store), "local/upper:1").id
    assert [c.id for c in validate_archive(archive)] == [upper]
    assert upper in {c.id for c in validate_store(lamina.open_store(store))}
    clean_docker.run("load", "-i", str(archive))
    clean_docker.run("create", "--name", "check", "local/upper:1")
    theirs = fs_of_tar(clean_docker.run("export", "check", text=False).stdout)
    assert set(ours) == set(theirs)
    diffs = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
    assert diffs == {}
    # and a fresh lamina container of the committed image agrees as well
    out(store, "create", "--name", "c3", "local/upper:1")
    assert fs_of_tar(run_lamina(store, "export", "c3").stdout) == theirs
