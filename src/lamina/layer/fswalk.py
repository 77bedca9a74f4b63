"""Walk a directory tree by descriptor, in tree order, never following a symlink.

Order: a directory, then its children sorted by name, depth first: the order squash
writes in, so layers made from a directory are deterministic. Each `FsEntry` carries
its parent's descriptor, valid while the walk is at that entry, to read content or
xattrs without ever resolving a path from the root again.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from lamina.layer import paths

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
# Host-specific labels: not part of an image (Docker leaves them out too).
_SKIPPED_XATTRS = frozenset({"security.selinux"})


@dataclass(slots=True)
class FsEntry:
    path: str
    name: str
    st: os.stat_result
    dir_fd: int  # the parent directory, open while the walk is here
    link: str = ""  # symlink target
    xattrs: dict[str, bytes] = field(default_factory=dict)
    names: list[str] | None = None  # a directory's children, sorted

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    def open(self) -> int:
        """A read descriptor for a regular file (close it yourself)."""
        return os.open(self.name, _FILE_FLAGS, dir_fd=self.dir_fd)

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        fd = self.open()
        try:
            while chunk := os.read(fd, size):
                yield chunk
        finally:
            os.close(fd)


def _xattrs(dir_fd: int, name: str) -> dict[str, bytes]:
    where = f"/proc/self/fd/{dir_fd}/{name}"
    try:
        keys = os.listxattr(where, follow_symlinks=False)
    except OSError:
        return {}  # not supported here
    return {
        k: os.getxattr(where, k, follow_symlinks=False) for k in keys if k not in _SKIPPED_XATTRS
    }


def entry_at(dir_fd: int, name: str) -> FsEntry:
    """The entry `name` of the open directory `dir_fd` (not followed if a symlink)."""
    return _entry(name, name, dir_fd)


def _entry(path: str, name: str, dir_fd: int) -> FsEntry:
    st = os.lstat(name, dir_fd=dir_fd)
    e = FsEntry(path, name, st, dir_fd, xattrs=_xattrs(dir_fd, name))
    if stat.S_ISLNK(st.st_mode):
        e.link = os.readlink(name, dir_fd=dir_fd)
    return e


def walk(root: str) -> Iterator[FsEntry]:
    """Every entry below `root` (not `root` itself), directories before their children."""
    root_fd = os.open(root, _DIR_FLAGS)
    # (directory path, its descriptor, its sorted children, next child index)
    stack: list[tuple[str, int, list[str], int]] = [("", root_fd, sorted(os.listdir(root_fd)), 0)]
    try:
        while stack:
            path, fd, names, index = stack[-1]
            if index == len(names):
                os.close(fd)
                stack.pop()
                continue
            stack[-1] = (path, fd, names, index + 1)
            name = names[index]
            e = _entry(paths.join(path, name), name, fd)
            if e.is_dir:
                child_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                e.names = sorted(os.listdir(child_fd))
                stack.append((e.path, child_fd, e.names, 0))
            yield e
    finally:
        for _, fd, _, _ in stack:
            os.close(fd)
