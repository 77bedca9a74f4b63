"""Directory operations confined to a root, by file descriptor: nothing here follows a
symlink, so no name inside the root can lead outside it.

Each path is walked one part at a time with `openat(O_NOFOLLOW | O_DIRECTORY)`; the
final operation is done relative to the parent's descriptor. A recent parent is kept
open (a layer lists a directory's entries together), and dropped on any removal.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from functools import partial

from lamina.errors import UnsafePathError
from lamina.layer import paths

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE = 64


def remove_tree(name: str, parent_fd: int | None = None) -> int:
    """Delete the directory `name` (relative to `parent_fd`, else a path) and everything
    below it; returns the bytes of the non-directories removed. Iterative, with at most
    two descriptors open (a layer may nest directories thousands deep: recursion, as in
    Python 3.11's shutil.rmtree, would fail), never following a symlink; directories
    made read-only (0555 or 0000, as images have them) are opened up for their owner."""
    fd = _open_for_removal(name, parent_fd)
    below: list[str] = []  # from `name` down to the directory `fd` is
    freed = 0
    try:
        while True:
            sub, n = _remove_files(fd)
            freed += n
            if sub is not None:
                child = _open_for_removal(sub, fd)
                os.close(fd)
                fd = child
                below.append(sub)
                continue
            if not below:
                break
            up = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = up
            _retry_writable(fd, partial(os.rmdir, below.pop(), dir_fd=fd))
    finally:
        os.close(fd)
    if parent_fd is None:
        os.rmdir(name)
    else:
        _retry_writable(parent_fd, partial(os.rmdir, name, dir_fd=parent_fd))
    return freed


def _open_for_removal(name: str, parent_fd: int | None) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:  # mode 0000: ours, so we may open it up
        os.chmod(name, stat.S_IRWXU, dir_fd=parent_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def _retry_writable(fd: int, act: Callable[[], None]) -> None:
    """Do `act`; if the directory `fd` is read-only to us, make it writable and retry."""
    try:
        act()
    except PermissionError:
        os.fchmod(fd, stat.S_IRWXU)
        act()


def _remove_files(fd: int) -> tuple[str | None, int]:
    """Unlink every non-directory in the directory `fd`; returns (a subdirectory left in
    it or None, the bytes unlinked)."""
    sub: str | None = None
    freed = 0
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                sub = sub or entry.name
                continue
            freed += entry.stat(follow_symlinks=False).st_size
            _retry_writable(fd, partial(os.unlink, entry.name, dir_fd=fd))
    return sub, freed


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
        fd, start = self.fd, 0
        parent = self._cache.get(key[:-1]) if len(key) > 1 else None
        if parent is not None:  # a layer lists a directory's subdirectories one by one
            fd = os.dup(parent)
            start = len(key) - 1
        for depth, name in enumerate(parts[start:], start):
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
            remove_tree(name, dir_fd)
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
