"""Snapshot + diff_to_layer (commit) and export_tree round trips.

Materialise a base layer, snapshot it, change the tree the ways a container does,
write the diff as a layer, then apply base + that layer elsewhere: the result must be
the changed tree (type, mode, owner, mtime, content, link target, xattrs, hardlinks).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from lamina.layer.apply import apply_layers
from lamina.layer.fsdiff import diff_to_layer, export_tree
from lamina.layer.snapshot import Snapshot, snapshot
from tests.kit.layers import CAP_NET_BIND, chardev, dir_, fifo, file, hardlink, layer_bytes, symlink
from tests.layer.stacks import disk_view, same

BASE = layer_bytes(
    [
        dir_("etc"),
        file("etc/passwd", b"root:x:0:0"),
        file("etc/same-size", b"AAAA"),
        dir_("usr"),
        dir_("usr/bin"),
        file("usr/bin/tool", b"#!/bin/sh", mode=0o755),
        file("usr/bin/ping", b"elf", mode=0o755, xattrs={"security.capability": CAP_NET_BIND}),
        hardlink("usr/bin/tool2", "usr/bin/tool"),
        dir_("gone"),
        dir_("gone/sub"),
        file("gone/sub/x", b"x"),
        file("gone/y", b"y"),
        dir_("rep"),
        file("rep/inner", b"i"),
        file("f2d", b"file becoming a dir"),
        dir_("d2l"),
        file("d2l/z", b"z"),
        dir_("rec"),
        file("rec/old", b"old"),
        dir_("keep", mode=0o750),
        file("keep/untouched", b"u"),
        dir_("dev"),
        chardev("dev/null", 1, 3),
        fifo("dev/fifo"),
        symlink("lnk", "etc/passwd"),
        file("owned", b"o", uid=0, gid=0),
    ]
)


def _materialise(root: Path, *layers: bytes) -> None:
    apply_layers([io.BytesIO(b) for b in layers], root)


def _change(root: Path) -> None:
    (root / "new.txt").write_bytes(b"new")
    (root / "newdir").mkdir()
    (root / "newdir/a").write_bytes(b"a")
    (root / "etc/passwd").write_bytes(b"root:x:0:0:changed")
    st = os.stat(root / "etc/same-size")
    (root / "etc/same-size").write_bytes(b"BBBB")  # same size, mtime put back:
    os.utime(root / "etc/same-size", ns=(st.st_atime_ns, st.st_mtime_ns))  # ctime tells
    shutil.rmtree(root / "gone")
    shutil.rmtree(root / "rep")
    (root / "rep").write_bytes(b"dir became a file")
    (root / "f2d").unlink()
    (root / "f2d").mkdir()
    (root / "f2d/inside").write_bytes(b"in")
    shutil.rmtree(root / "d2l")
    (root / "d2l").symlink_to("usr/bin")
    os.chmod(root / "usr/bin/ping", 0o700)  # metadata only (drops nothing else)
    os.chown(root / "owned", 1000, 1000)
    os.link(root / "new.txt", root / "usr/new-link")
    (root / "pair1").write_bytes(b"pair")
    os.link(root / "pair1", root / "pair2")
    os.setxattr(root / "etc/passwd", "user.note", b"\x00\xff")
    shutil.rmtree(root / "rec")
    (root / "rec").mkdir()
    (root / "rec/new").write_bytes(b"new")
    (root / "dev/fifo").unlink()


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8", errors="surrogateescape") as t:
        return [m.name for m in t]


@pytest.fixture
def changed(tmp_path: Path) -> tuple[Path, bytes]:
    root = tmp_path / "c"
    _materialise(root, BASE)
    snap = snapshot(root)
    _change(root)
    out = io.BytesIO()
    diff_id, size = diff_to_layer(root, snap, out)
    assert size == len(out.getvalue()) and diff_id.startswith("sha256:")
    return root, out.getvalue()


def test_diff_round_trip(changed: tuple[Path, bytes], tmp_path: Path) -> None:
    root, layer = changed
    again = tmp_path / "again"
    _materialise(again, BASE, layer)
    problems = same(disk_view(root), disk_view(again))
    assert not problems, "\n".join(problems)


def test_diff_contents(changed: tuple[Path, bytes]) -> None:
    names = _names(changed[1])
    assert ".wh.gone" in names and not [n for n in names if n.startswith("gone/")]
    assert "dev/.wh.fifo" in names and "dev" in names  # parent written for its whiteout
    assert "usr/bin/ping" in names and "usr" in names and "usr/bin" in names  # chmod only
    assert "etc/same-size" in names and "owned" in names
    assert "rec/.wh.old" in names and "rec/new" in names
    assert "keep" not in names and "keep/untouched" not in names and "lnk" not in names
    assert "rep" in names and not [n for n in names if n.startswith("rep/")]
    assert names == sorted(names, key=lambda n: n.rstrip("/").split("/"))  # tree order


def test_hardlinks_within_the_layer(changed: tuple[Path, bytes]) -> None:
    with tarfile.open(fileobj=io.BytesIO(changed[1])) as t:
        members = {m.name: m for m in t}
    assert members["new.txt"].isreg() and members["usr/new-link"].islnk()
    assert members["usr/new-link"].linkname == "new.txt"
    assert members["pair2"].islnk() and members["pair2"].linkname == "pair1"


def test_no_change_is_an_empty_layer(tmp_path: Path) -> None:
    root = tmp_path / "r"
    _materialise(root, BASE)
    out = io.BytesIO()
    diff_to_layer(root, snapshot(root), out)
    assert _names(out.getvalue()) == []


def test_snapshot_survives_a_round_trip_through_json(tmp_path: Path) -> None:
    root = tmp_path / "r"
    _materialise(root, BASE, layer_bytes([file("caf\udce9", b"x", xattrs={"user.k": b"\xff"})]))
    snap = snapshot(root)
    path = tmp_path / "snap.jsonl"
    snap.save(path)
    assert Snapshot.read(path) == snap
    assert snap.records["caf\udce9"].xattrs == (("user.k", b"\xff"),)


def test_corrupt_snapshot_is_refused(tmp_path: Path) -> None:
    from lamina.errors import InvalidInputError

    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "lamina-snapshot/1"}\n["x", 1]\n')
    with pytest.raises(InvalidInputError, match="snapshot is corrupt"):
        Snapshot.read(path)


def test_export_round_trip_and_determinism(changed: tuple[Path, bytes], tmp_path: Path) -> None:
    root, _ = changed
    first, second = io.BytesIO(), io.BytesIO()
    assert export_tree(root, first) == export_tree(root, second)
    assert first.getvalue() == second.getvalue()
    names = _names(first.getvalue())
    assert not [n for n in names if ".wh." in n]
    again = tmp_path / "exported"
    _materialise(again, first.getvalue())
    problems = same(disk_view(root), disk_view(again))
    assert not problems, "\n".join(problems)


def test_commit_on_top_of_a_commit(changed: tuple[Path, bytes], tmp_path: Path) -> None:
    root, layer = changed
    snap = snapshot(root)
    (root / "newdir").rename(root / "renamed")
    (root / "usr/bin/tool").write_bytes(b"rewritten")  # hardlinked with tool2
    out = io.BytesIO()
    diff_to_layer(root, snap, out)
    names = _names(out.getvalue())
    assert ".wh.newdir" in names and "renamed/a" in names
    assert "usr/bin/tool" in names and "usr/bin/tool2" in names
    again = tmp_path / "again"
    _materialise(again, BASE, layer, out.getvalue())
    problems = same(disk_view(root), disk_view(again))
    assert not problems, "\n".join(problems)
