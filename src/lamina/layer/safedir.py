"""Directory operations confined to a root, by file descriptor: nothing here follows a
symlink, so no name inside the root can lead outside it.

Each path is walked one part at a time with `openat(O_NOFOLLOW | O_DIRECTORY)`; the
final operation is done relative to the parent's descriptor. A recent parent is kept
open (a layer lists a directory's entries together), and dropped on any removal.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat

from lamina.errors import UnsafePathError
from lamina.layer import paths

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE = 64


def points_outside(dir_parts: list[str], target: str) -> bool:
    """Would a symlink in `dir_parts` to `target` leave the root if a host followed it?"""
    if target.startswith("/"):
        return True
    depth = len(dir_parts)
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part and part != ".":
            depth += 1
    return False


class SafeRoot:
    """A directory tree rooted at `root`, opened once; close() when done."""

    def __init__(self, root: str) -> None:
        os.makedirs(root, exist_ok=True)
        self.fd = os.open(root, _DIR_FLAGS)
        self._cache: dict[tuple[str, ...], int] = {}

    def close(self) -> None:
        self.forget()
        os.close(self.fd)

    def forget(self) -> None:
        """Close every cached directory descriptor."""
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def lstat(self, dir_fd: int, name: str) -> os.stat_result | None:
        try:
            return os.lstat(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return None

    def directory(self, parts: list[str], create: bool, entry: str = "") -> int | None:
        """A descriptor for the directory at `parts` (owned by this object: do not close).

        create=True makes missing directories (mode 0755) and replaces a non-directory
        in the way with one, as overlayfs shows a directory over a lower file; a symlink
        in the way that a host would follow out of the root is an UnsafePathError.
        create=False returns None when any part is missing or not a directory."""
        key = tuple(parts)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        fd = self.fd
        for depth, name in enumerate(parts):
            try:
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR) or not create:
                    self._close_walk(fd)
                    if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                        return None
                    raise
                self._make_dir_in_place(fd, name, parts[:depth], entry)
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            self._close_walk(fd)
            fd = next_fd
        if fd == self.fd:
            return fd
        if len(self._cache) >= _CACHE:
            os.close(self._cache.pop(next(iter(self._cache))))
        self._cache[key] = fd
        return fd

    def _close_walk(self, fd: int) -> None:
        if fd != self.fd:
            os.close(fd)

    def _make_dir_in_place(self, fd: int, name: str, dir_parts: list[str], entry: str) -> None:
        st = self.lstat(fd, name)
        if st is not None:
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(name, dir_fd=fd)
                if points_outside(dir_parts, target):
                    where = paths.join("/".join(dir_parts), name)
                    raise UnsafePathError(
                        f"entry {entry!r} lies under {where!r}, a symlink to {target!r} "
                        "outside the root",
                        "refusing to use this layer",
                    )
            self.remove(fd, name, dir_parts)
        os.mkdir(name, 0o700, dir_fd=fd)
        os.chmod(name, 0o755, dir_fd=fd)

    def remove(self, dir_fd: int, name: str, dir_parts: list[str]) -> bool:
        """Delete `name` in the directory `dir_parts` (open as `dir_fd`), subtree and all."""
        st = self.lstat(dir_fd, name)
        if st is None:
            return False
        if stat.S_ISDIR(st.st_mode):
            self._forget_below((*dir_parts, name))
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
        return True

    def clear(self, dir_fd: int, dir_parts: list[str]) -> None:
        """Delete everything inside a directory."""
        for name in os.listdir(dir_fd):
            self.remove(dir_fd, name, dir_parts)

    def _forget_below(self, removed: tuple[str, ...]) -> None:
        n = len(removed)
        for key in [k for k in self._cache if k[:n] == removed]:
            os.close(self._cache.pop(key))
