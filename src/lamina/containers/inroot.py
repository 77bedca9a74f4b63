"""Paths inside a container's root, resolved the way the container itself sees them.

`/etc/x` means ROOT/etc/x; a symlink is followed as a process chrooted into ROOT
would follow it (an absolute target starts again at ROOT, `..` stops at ROOT), so a
link can never lead out of the root. A path the user types whose `..` parts climb
above the root is refused outright: it is a mistake or an attack, never a place.

Every directory is opened one part at a time with O_NOFOLLOW relative to its parent's
descriptor, so a symlink swapped in while we work makes the operation fail instead
of escaping (the container may be running). Callers get a descriptor of the parent
directory and a final name, and do their own `*at` calls on them.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from lamina.errors import InvalidInputError, NotFoundError, UnsafePathError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40  # as the kernel's ELOOP limit for one lookup


class MissingPath(NotFoundError):
    """A path (or a directory on the way to it) that is not in the container."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no such file or directory in the container: {path}")
        self.path = path


@dataclass
class Located:
    """A path in the root: its parent directory (an open descriptor we own) and its name.

    `name` is "" for the root itself; `st` is its lstat, None when it does not exist."""

    parent_fd: int
    name: str
    st: os.stat_result | None
    shown: str  # the path as the container sees it, for messages

    def close(self) -> None:
        os.close(self.parent_fd)

    def __enter__(self) -> Located:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_dir(self) -> bool:
        return self.st is not None and stat.S_ISDIR(self.st.st_mode)


def user_parts(path: str) -> list[str]:
    """A path the user typed for the container, as parts below the root."""
    out: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if not out:
                raise UnsafePathError(
                    f"container path {path!r} climbs above the container's root",
                    "paths in a container start at its /",
                )
            out.pop()
        elif part and part != ".":
            out.append(part)
    return out


def locate(root: str, path: str, follow_last: bool) -> Located:
    """Find `path` inside `root` (symlinks in directories followed, scoped to the root;
    the last part followed only with `follow_last`). Its parent must exist."""
    root_fd = os.open(root, DIR_FLAGS)
    try:
        return _locate(root_fd, user_parts(path), follow_last, path)
    finally:
        os.close(root_fd)


def _locate(root_fd: int, todo: list[str], follow_last: bool, shown: str) -> Located:
    done: list[str] = []  # real directories below the root, no symlinks among them
    links = 0
    todo = list(todo)
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if done:
                done.pop()  # at the root, `..` is the root (as in a chroot)
            continue
        parent = open_dir(root_fd, done, shown)
        try:
            st = _lstat(parent, part)
        except BaseException:
            os.close(parent)
            raise
        last = not any(p not in ("", ".") for p in todo)
        if st is not None and stat.S_ISLNK(st.st_mode) and (follow_last or not last):
            links += 1
            if links > _MAX_LINKS:
                os.close(parent)
                raise InvalidInputError(f"too many levels of symbolic links in {shown!r}")
            target = os.readlink(part, dir_fd=parent)
            os.close(parent)
            if target.startswith("/"):
                done = []
            todo = target.split("/") + todo
            continue
        if last:
            return Located(parent, part, st, shown)
        os.close(parent)
        if st is None:  # the first part that is missing, as `docker cp` names it
            raise MissingPath("/" + "/".join([*done, part]))
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidInputError(f"{'/' + '/'.join([*done, part])} is not a directory")
        done.append(part)
    # the path was the root itself (or resolved to it): it is its own parent
    fd = open_dir(root_fd, done, shown)
    return Located(fd, "", os.fstat(fd), shown)


def open_dir(root_fd: int, parts: list[str], shown: str = "") -> int:
    """Open the directory ROOT/parts without following any symlink on the way."""
    fd = os.dup(root_fd)
    for part in parts:
        try:
            nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            swapped = exc.errno == errno.ELOOP or _is_link(fd, part)
            os.close(fd)
            if swapped:
                raise UnsafePathError(
                    f"{shown or part!r} changed under us (a directory became a symlink)",
                    "try again when the container is not modifying it",
                ) from None
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise NotFoundError(f"no such directory in the container: {shown}") from None
            raise
        os.close(fd)
        fd = nxt
    return fd


def _is_link(dir_fd: int, name: str) -> bool:
    """O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR or ELOOP: tell which it was."""
    st = _lstat(dir_fd, name)
    return st is not None and stat.S_ISLNK(st.st_mode)


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def open_child_dir(dir_fd: int, name: str) -> int:
    """Open the directory `name` in `dir_fd`, refusing a symlink."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(
                f"{name!r} is no longer a directory (the container changed it)"
            ) from None
        raise


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """lstat of `name` in the directory `dir_fd`, or None if there is nothing there."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
