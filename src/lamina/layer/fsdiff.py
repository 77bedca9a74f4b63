"""Turn a directory into layers: its changes since a snapshot (`commit`), or all of it
(`export`). Both write in tree order (as squash does) and hash as they write.

    diff_id, size = diff_to_layer(root, snapshot, out)
    diff_id, size = export_tree(root, out)

Changes, as Docker records them:
- a new or changed path is written in full; a metadata-only change (chmod, chown,
  xattrs) is a change too. Directories ignore mtime and size (adding a child changes
  them); every other type compares all of the snapshot record.
- the parent directories of anything written are written too, with their current
  metadata, so the layer restores their permissions.
- a deleted path becomes one whiteout `.wh.NAME`; nothing below a deleted directory
  is listed. A directory replaced by a file or symlink (or the reverse) is just the
  new entry: appliers replace what was there.
- paths sharing an inode are written once, then as hardlinks to the first name.
- mtimes are whole seconds; uname/gname are left empty; sockets are left out (a tar
  cannot hold one).
- without root, files of our own uid/gid are recorded as 0:0 (`user_as_root`): the
  owner Docker records for files `cp` or a process in the container made.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from lamina.layer import paths, whiteout
from lamina.layer import tarformat as tf
from lamina.layer.fswalk import FsEntry, entry_at, walk
from lamina.layer.snapshot import Record, Snapshot, record_of
from lamina.layer.tarwriter import TarSink

_TYPES = {
    stat.S_IFREG: tf.REGULAR,
    stat.S_IFDIR: tf.DIRECTORY,
    stat.S_IFLNK: tf.SYMLINK,
    stat.S_IFCHR: tf.CHAR,
    stat.S_IFBLK: tf.BLOCKDEV,
    stat.S_IFIFO: tf.FIFO,
}


Owner = tuple[int, int] | None  # files of this uid/gid are recorded as root's (0:0)


def user_as_root() -> Owner:
    """Without root, the files we made belong to us: record them as root's, as Docker
    (whose daemon is root) and lamina as root do; as root, owners are kept as they are."""
    uid = os.geteuid()
    return None if uid == 0 else (uid, os.getegid())


def header_of(e: FsEntry, own: Owner = None) -> tf.Header | None:
    """The tar header for a filesystem entry (None for a socket)."""
    st = e.st
    kind = _TYPES.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        return None
    pax = {tf.XATTR_PREFIX + k: tf.decode_str(v) for k, v in sorted(e.xattrs.items())}
    special = kind in (tf.CHAR, tf.BLOCKDEV)
    return tf.Header(
        name=e.path + "/" if kind == tf.DIRECTORY else e.path,
        type=kind,
        mode=stat.S_IMODE(st.st_mode),
        uid=0 if own and st.st_uid == own[0] else st.st_uid,
        gid=0 if own and st.st_gid == own[1] else st.st_gid,
        size=st.st_size if kind == tf.REGULAR else 0,
        mtime=st.st_mtime_ns // 10**9,
        linkname=e.link,
        devmajor=os.major(st.st_rdev) if special else 0,
        devminor=os.minor(st.st_rdev) if special else 0,
        pax=pax or None,
    )


class _LayerWriter:
    """Writes entries in walk order; parents that were held back go out first."""

    def __init__(self, out: BinaryIO) -> None:
        self.sink = TarSink(out)
        self._linked: dict[tuple[int, int], str] = {}
        # the directories above the current entry: (path, header, written?)
        self._parents: list[tuple[str, tf.Header | None, bool]] = []

    def enter(self, e: FsEntry, header: tf.Header | None) -> None:
        """Track `e` as the current position (written later if something needs it)."""
        depth = e.path.count("/")
        del self._parents[depth:]
        if e.is_dir:
            self._parents.append((e.path, header, False))

    def _write_parents(self, upto: str) -> None:
        for i, (path, header, written) in enumerate(self._parents):
            if not written and path != upto and header is not None:
                self.sink.add(header)
                self._parents[i] = (path, header, True)

    def write(self, e: FsEntry, header: tf.Header) -> None:
        self._write_parents(e.path)
        if e.is_dir:
            self._parents[-1] = (e.path, header, True)
            self.sink.add(header)
            return
        key = (e.st.st_dev, e.st.st_ino)
        first = self._linked.get(key) if e.st.st_nlink > 1 else None
        if first is not None:
            header.type, header.linkname, header.size = tf.HARDLINK, first, 0
            self.sink.add(header)
            return
        if e.st.st_nlink > 1:
            self._linked[key] = e.path
        self.sink.add(header, e.chunks() if header.type == tf.REGULAR else ())

    def whiteouts(self, directory: str, names: list[str]) -> None:
        if not names:
            return
        self._write_parents("")
        for name in names:
            self.sink.add(
                tf.Header(name=whiteout.whiteout_name(paths.join(directory, name)), mode=0)
            )


def _changed(old: Record | None, new: Record) -> bool:
    if old is None or old.kind != new.kind:
        return True
    if new.kind == "d":  # mtime and size follow the children: not a change by themselves
        return (old.mode, old.uid, old.gid, old.xattrs, old.identity) != (
            new.mode,
            new.uid,
            new.gid,
            new.xattrs,
            new.identity,
        )
    return old != new


def diff_to_layer(
    root: Path, snap: Snapshot, out: BinaryIO, own: Owner = None
) -> tuple[str, int]:
    """Write the changes of `root` since `snap` as a layer; returns (diff_id, size)."""
    writer = _LayerWriter(out)
    children = snap.children()
    writer.whiteouts("", _deleted(children.get("", []), os.listdir(root)))
    for e in walk(str(root)):
        header = header_of(e, own)
        writer.enter(e, header)
        old, new = snap.records.get(e.path), record_of(e)
        if header is not None and _changed(old, new):
            writer.write(e, header)
        if e.names is not None and old is not None and old.kind == "d":
            writer.whiteouts(e.path, _deleted(children.get(e.path, []), e.names))
    return writer.sink.finish()


def _deleted(before: list[str], now: list[str]) -> list[str]:
    present = set(now)
    return sorted(name for name in before if name not in present)


def export_tree(root: Path, out: BinaryIO, own: Owner = None) -> tuple[str, int]:
    """Write the whole tree under `root` as one layer; returns (diff_id, size)."""
    writer = _LayerWriter(out)
    _write_all(writer, walk(str(root)), own)
    return writer.sink.finish()


def export_entry(dir_fd: int, name: str, out: BinaryIO, own: Owner = None) -> tuple[str, int]:
    """Write the entry `name` of the directory `dir_fd` and, for a directory, all below
    it as NAME/...: the tar `docker cp CONTAINER:PATH -` writes. Returns (diff_id, size)."""
    writer = _LayerWriter(out)
    top = entry_at(dir_fd, name)
    _write_all(writer, [top], own)
    if top.is_dir:
        below = walk(f"/proc/self/fd/{dir_fd}/{name}")  # the real directory, already found
        _write_all(writer, (replace(e, path=paths.join(name, e.path)) for e in below), own)
    return writer.sink.finish()


def _write_all(writer: _LayerWriter, entries: Iterable[FsEntry], own: Owner) -> None:
    for e in entries:
        header = header_of(e, own)
        writer.enter(e, header)
        if header is not None:
            writer.write(e, header)
