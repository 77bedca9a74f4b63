"""Materialise a stack of layers into a directory, whiteouts applied.

    report = apply_layers([open(p, "rb") for p in layer_files], Path("rootfs"))

Semantics are those of `tree` (the squash engine), so applying a squashed layer gives
the same filesystem as applying what it replaced: per layer, whiteouts and opaque
markers act first, then entries in tar order; a directory entry on a directory only
updates metadata; any other entry replaces what was at its path.

Nothing escapes the root: names are normalised (a `..` above the root is an
UnsafePathError), every path is walked by descriptor without following symlinks
(`safedir`), a symlink in the way of a later entry is replaced by a directory (as
overlayfs shows it), unless a host following it would leave the root: UnsafePathError.
Hardlink targets are looked up the same way.

Modes, mtimes, symlinks and hardlinks are always kept; owners, device nodes and
security xattrs need root: without it they are skipped and counted in the report.
Directory metadata is set at the end, so adding children does not disturb it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lamina.digest import CHUNK
from lamina.errors import InvalidInputError, UnsafePathError
from lamina.layer import paths
from lamina.layer import tarformat as tf
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.safedir import SafeRoot
from lamina.layer.tarstream import Member, TarReader
from lamina.layer.whiteout import Kind

# A name no layer can create (whiteout names are never materialised): scratch space.
_LINK_SPARE = ".wh..wh.lamina-link"
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class ApplyReport:
    """What could not be reproduced (e.g. owners when not root): kind -> (count, example)."""

    skipped: dict[str, tuple[int, str]] = field(default_factory=dict)

    def note(self, kind: str, path: str) -> None:
        count, example = self.skipped.get(kind, (0, path))
        self.skipped[kind] = (count + 1, example)

    def lines(self) -> list[str]:
        return [f"{kind}: {n} skipped (e.g. {ex!r})" for kind, (n, ex) in self.skipped.items()]


class _PendingDir:
    """Directory metadata to set at the end, in a tree so a deletion drops a subtree."""

    __slots__ = ("kids", "meta")

    def __init__(self) -> None:
        self.meta: Member | None = None
        self.kids: dict[str, _PendingDir] = {}

    def at(self, parts: list[str]) -> _PendingDir:
        node = self
        for name in parts:
            node = node.kids.setdefault(name, _PendingDir())
        return node

    def drop(self, parts: list[str]) -> None:
        node: _PendingDir | None = self
        for name in parts[:-1]:
            node = node.kids.get(name) if node else None
        if node is not None and parts:
            node.kids.pop(parts[-1], None)


def apply_layers(layers: Iterable[BinaryIO], root: Path) -> ApplyReport:
    """Apply uncompressed tar `layers` (bottom first) onto the directory `root`."""
    applier = _Applier(str(root))
    try:
        for index, stream in enumerate(layers):
            applier.layer(stream, f"layer {index}")
        applier.finish()
    finally:
        applier.close()
    return applier.report


def _seekable(stream: BinaryIO) -> BinaryIO:
    """Whiteouts act before entries, so a pipe is spooled to a temporary file first."""
    try:
        if stream.seekable():
            return stream
    except (AttributeError, OSError, ValueError):
        pass
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed when garbage collected)
    shutil.copyfileobj(stream, spool, CHUNK)
    spool.seek(0)
    return spool


class _Applier:
    def __init__(self, root: str) -> None:
        self.root = SafeRoot(root)
        self.privileged = os.geteuid() == 0
        self.report = ApplyReport()
        self.pending = _PendingDir()

    def close(self) -> None:
        self.root.close()

    def layer(self, stream: BinaryIO, what: str) -> None:
        stream = _seekable(stream)
        reader = TarReader(stream, what)
        table = HeaderIndex.collect(reader)  # compact: no object per entry is kept
        for row in range(len(table)):  # refuse a layer with an unsafe name before any change
            paths.split(table.name(row))
        deletions, skip = table.deletions()
        for kind, dir_parts, target in deletions:
            self._delete(kind, dir_parts, target)
        for row in range(len(table)):
            if row not in skip:
                member = table.member(row)
                self._entry(reader, member, paths.split(member.name))

    def _delete(self, kind: Kind, dir_parts: list[str], target: str) -> None:
        dir_fd = self.root.directory(dir_parts, create=False)
        if dir_fd is None:
            return  # nothing there (or not a directory): nothing to hide
        if kind is Kind.OPAQUE:
            self.root.clear(dir_fd, dir_parts)
            self.pending.at(dir_parts).kids.clear()
        elif self.root.remove(dir_fd, target, dir_parts):
            self.pending.drop([*dir_parts, target])

    def _entry(self, reader: TarReader, m: Member, parts: list[str]) -> None:
        if not parts:
            if m.type == tf.DIRECTORY:
                self.pending.meta = m
            return
        name = parts[-1]
        dir_fd = self.root.directory(parts[:-1], create=True, entry=m.name)
        assert dir_fd is not None
        existing = self.root.lstat(dir_fd, name)
        if m.type == tf.DIRECTORY and existing is not None and stat.S_ISDIR(existing.st_mode):
            self.pending.at(parts).meta = m
            return
        if existing is not None and m.type == tf.HARDLINK:
            # the link takes the inode its target has now, which may be what it replaces
            self._hardlink(m, _LINK_SPARE, dir_fd)
            self._remove(dir_fd, name, parts)
            os.rename(_LINK_SPARE, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return
        if existing is not None:
            self._remove(dir_fd, name, parts)
        self._create(reader, m, parts, dir_fd)

    def _remove(self, dir_fd: int, name: str, parts: list[str]) -> None:
        self.root.remove(dir_fd, name, parts[:-1])
        self.pending.drop(parts)

    def _create(self, reader: TarReader, m: Member, parts: list[str], dir_fd: int) -> None:
        name = parts[-1]
        if m.type == tf.DIRECTORY:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
            self.pending.at(parts).meta = m
        elif m.type == tf.REGULAR:
            self._regular(reader, m, name, dir_fd)
        elif m.type == tf.SYMLINK:
            os.symlink(m.linkname, name, dir_fd=dir_fd)
            self._metadata_by_name(m, name, dir_fd, symlink=True)
        elif m.type == tf.HARDLINK:
            self._hardlink(m, name, dir_fd)
        elif m.type in (tf.CHAR, tf.BLOCKDEV, tf.FIFO):
            self._special(m, name, dir_fd)
        else:
            self.report.note(f"entries of tar type {m.type!r}", m.name)

    def _regular(self, reader: TarReader, m: Member, name: str, dir_fd: int) -> None:
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=dir_fd)
        with os.fdopen(fd, "wb") as f:
            for chunk in reader.data(m):
                f.write(chunk)
            f.flush()
            self._owner(m, lambda: os.fchown(fd, m.uid, m.gid))
            os.fchmod(fd, m.mode & 0o7777)
            self._xattrs(m, fd)
            os.utime(fd, ns=(m.mtime_ns, m.mtime_ns))

    def _hardlink(self, m: Member, name: str, dir_fd: int) -> None:
        target = paths.split(m.linkname, "hardlink target")
        src_fd = self.root.directory(target[:-1], create=False) if target else None
        if src_fd is None:
            if self._through_symlink(target[:-1]):
                raise UnsafePathError(
                    f"hardlink {m.name!r} reaches {m.linkname!r} through a symlink",
                    "refusing to use this layer",
                )
            raise InvalidInputError(f"hardlink {m.name!r}: target {m.linkname!r} does not exist")
        try:
            os.link(target[-1], name, src_dir_fd=src_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EPERM, errno.EISDIR):
                raise InvalidInputError(
                    f"hardlink {m.name!r}: target {m.linkname!r} is missing or a directory"
                ) from None
            raise

    def _through_symlink(self, dir_parts: list[str]) -> bool:
        """Is one of `dir_parts` a symlink? (Only asked to explain a failed lookup.)"""
        for depth in range(len(dir_parts)):
            parent = self.root.directory(dir_parts[:depth], create=False)
            if parent is None:
                return False
            st = self.root.lstat(parent, dir_parts[depth])
            if st is None or not stat.S_ISDIR(st.st_mode):
                return st is not None and stat.S_ISLNK(st.st_mode)
        return False

    def _special(self, m: Member, name: str, dir_fd: int) -> None:
        if m.type == tf.FIFO:
            os.mkfifo(name, 0o600, dir_fd=dir_fd)
        elif not self.privileged:
            self.report.note("device nodes (need root)", m.name)
            return
        else:
            kind = stat.S_IFCHR if m.type == tf.CHAR else stat.S_IFBLK
            os.mknod(name, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=dir_fd)
        self._metadata_by_name(m, name, dir_fd, symlink=False)

    # -- metadata ------------------------------------------------------------------------
    def _metadata_by_name(self, m: Member, name: str, dir_fd: int, symlink: bool) -> None:
        self._owner(m, lambda: os.chown(name, m.uid, m.gid, dir_fd=dir_fd, follow_symlinks=False))
        if not symlink:  # just created by us, not a symlink: chmod may use the name
            os.chmod(name, m.mode & 0o7777, dir_fd=dir_fd)
        if m.pax and any(k.startswith(tf.XATTR_PREFIX) for k in m.pax):
            self._xattrs(m, f"/proc/self/fd/{dir_fd}/{name}")
        os.utime(name, ns=(m.mtime_ns, m.mtime_ns), dir_fd=dir_fd, follow_symlinks=False)

    def _owner(self, m: Member, chown: Callable[[], None]) -> None:
        if not self.privileged:
            if (m.uid, m.gid) != (os.geteuid(), os.getegid()):
                self.report.note("owners (need root)", m.name)
            return
        chown()

    def _xattrs(self, m: Member, target: int | str) -> None:
        for key, value in m.xattrs.items():
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:
                    os.setxattr(target, key, value, follow_symlinks=False)
            except OSError:
                self.report.note("xattrs (not permitted here)", f"{m.name}: {key}")

    def finish(self) -> None:
        """Set directory metadata, deepest first (the root's last)."""
        stack: list[tuple[list[str], _PendingDir, bool]] = [([], self.pending, False)]
        while stack:
            parts, node, expanded = stack.pop()
            if not expanded:
                stack.append((parts, node, True))
                stack.extend(([*parts, k], kid, False) for k, kid in node.kids.items())
            elif node.meta is not None:
                self._directory_metadata(parts, node.meta)

    def _directory_metadata(self, parts: list[str], m: Member) -> None:
        fd = self.root.directory(parts, create=False)
        if fd is None:
            return
        self._owner(m, lambda: os.fchown(fd, m.uid, m.gid))
        os.fchmod(fd, m.mode & 0o7777)
        self._xattrs(m, fd)
        os.utime(fd, ns=(m.mtime_ns, m.mtime_ns))
