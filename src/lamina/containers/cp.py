"""`cp` between the host and a container's root, with `docker cp`'s rules.

    copy_in(rootfs, "conf/", "/etc/app")       host -> container
    copy_out(rootfs, "/var/log", "logs")       container -> host

Where things land (the same both ways):
- DST is an existing directory: SRC goes inside it (`SRC/.` copies its contents);
- DST is an existing file: a file replaces it, a directory is an error;
- DST does not exist: it becomes the copy (a `/` at its end demands a directory);
  its parent must exist.
Symlinks are copied as symlinks (with `follow`, SRC itself is followed); hardlinks
inside a copied tree stay hardlinks; modes and mtimes are kept. Files copied into a
container belong to root there (as with `docker cp`), when we are root to say so.

The container side is only ever touched through descriptors from `inroot`: nothing
here can read or write outside the container's root, whatever its symlinks say.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lamina.containers import inroot
from lamina.errors import ConflictError, InvalidInputError, NotFoundError

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class _Links:
    """Hardlinks within one copy: source inode -> where its first copy went."""

    seen: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)

    def close(self) -> None:
        for dir_fd, _ in self.seen.values():
            os.close(dir_fd)
        self.seen.clear()


def _is_dir(st: os.stat_result | None) -> bool:
    return st is not None and stat.S_ISDIR(st.st_mode)


def _contents_only(path: str) -> bool:
    return path.endswith("/.")


def _wants_dir(path: str) -> bool:
    return path.endswith(("/", "/."))


# -- host -> container ------------------------------------------------------------------


def copy_in(rootfs: Path, src: str, dst: str, follow: bool = False) -> None:
    """Copy the host path `src` to the container path `dst` (inside `rootfs`)."""
    try:
        src_st = os.stat(src) if follow else os.lstat(src)
    except FileNotFoundError:
        raise NotFoundError(f"no such file or directory: {src}") from None
    owner = (0, 0) if os.geteuid() == 0 else None
    links = _Links()
    try:
        _copy_in(rootfs, src, src_st, dst, owner, links)
    finally:
        links.close()


def _copy_in(
    rootfs: Path,
    src: str,
    src_st: os.stat_result,
    dst: str,
    owner: tuple[int, int] | None,
    links: _Links,
) -> None:
    with inroot.locate(str(rootfs), dst, follow_last=True) as loc:
        if _is_dir(loc.st):
            into = loc.parent_fd if not loc.name else inroot.open_child_dir(loc.parent_fd, loc.name)
            try:
                if _is_dir(src_st) and _contents_only(src):
                    _put_children(src, into, owner, links)
                else:
                    _put(src, src_st, into, _base(src), owner, links)
            finally:
                if into != loc.parent_fd:
                    os.close(into)
            return
        _check_target(src_st, loc.st, dst)
        _put(src, src_st, loc.parent_fd, loc.name, owner, links)


def _base(path: str) -> str:
    name = os.path.basename(os.path.normpath(path))
    if name in ("", ".", "/"):
        raise InvalidInputError(f"cannot tell what to name a copy of {path!r}", "name the target")
    return name


def _check_target(src_st: os.stat_result, dst_st: os.stat_result | None, dst: str) -> None:
    if dst_st is not None and _is_dir(src_st):
        raise ConflictError(f"cannot copy a directory to a file: {dst}")
    if dst_st is not None and _wants_dir(dst):
        raise InvalidInputError(f"{dst} is not a directory")
    if dst_st is None and _wants_dir(dst) and not _is_dir(src_st):
        raise NotFoundError(f"destination directory {dst} does not exist")


def _put(
    src: str,
    st: os.stat_result,
    dir_fd: int,
    name: str,
    owner: tuple[int, int] | None,
    links: _Links,
) -> None:
    existing = inroot.lstat_at(dir_fd, name)
    if stat.S_ISDIR(st.st_mode):
        if existing is not None and not _is_dir(existing):
            raise ConflictError(f"cannot overwrite non-directory {name!r} with a directory")
        if existing is None:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        child = inroot.open_child_dir(dir_fd, name)
        try:
            _put_children(src, child, owner, links)
            _metadata_fd(child, st, owner)
        finally:
            os.close(child)
        return
    if _is_dir(existing):
        raise ConflictError(f"cannot overwrite directory {name!r} with a non-directory")
    if existing is not None:
        os.unlink(name, dir_fd=dir_fd)
    _put_leaf(src, st, dir_fd, name, owner, links)


def _put_children(src: str, dir_fd: int, owner: tuple[int, int] | None, links: _Links) -> None:
    with os.scandir(src) as entries:
        for entry in entries:
            _put(entry.path, entry.stat(follow_symlinks=False), dir_fd, entry.name, owner, links)


def _put_leaf(
    src: str,
    st: os.stat_result,
    dir_fd: int,
    name: str,
    owner: tuple[int, int] | None,
    links: _Links,
) -> None:
    mode = st.st_mode
    key = (st.st_dev, st.st_ino)
    if stat.S_ISREG(mode) and st.st_nlink > 1 and key in links.seen:
        first_dir, first_name = links.seen[key]
        os.link(first_name, name, src_dir_fd=first_dir, dst_dir_fd=dir_fd, follow_symlinks=False)
        return
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), name, dir_fd=dir_fd)
    elif stat.S_ISREG(mode):
        fd = os.open(name, _NEW_FILE, 0o600, dir_fd=dir_fd)
        try:
            with open(src, "rb") as f:
                _copy_fd(f.fileno(), fd, st.st_size)
            _metadata_fd(fd, st, owner)
        finally:
            os.close(fd)
        if st.st_nlink > 1:
            links.seen[key] = (os.dup(dir_fd), name)
        return
    elif stat.S_ISFIFO(mode):
        os.mkfifo(name, 0o600, dir_fd=dir_fd)
    elif (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and os.geteuid() == 0:
        os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dir_fd)
    else:
        return  # sockets, or devices without root: nothing a copy can carry
    _metadata_at(dir_fd, name, st, owner)


def _copy_fd(src: int, dst: int, size: int) -> None:
    """Kernel-side copy when it can (copy_file_range), a plain loop otherwise."""
    left = size
    try:
        while left > 0:
            n = os.copy_file_range(src, dst, min(left, 1 << 30))
            if n == 0:
                break
            left -= n
    except OSError:  # e.g. EXDEV on old kernels: finish with read/write
        os.lseek(src, size - left, os.SEEK_SET)
    if left == 0:
        return
    with os.fdopen(os.dup(src), "rb") as fin, os.fdopen(os.dup(dst), "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def _metadata_fd(fd: int, st: os.stat_result, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.fchown(fd, *owner)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _metadata_at(dir_fd: int, name: str, st: os.stat_result, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):  # a symlink's own mode cannot be set on Linux
        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dir_fd)
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dir_fd, follow_symlinks=False)


# -- container -> host ------------------------------------------------------------------


def copy_out(rootfs: Path, src: str, dst: str, follow: bool = False) -> None:
    """Copy the container path `src` (inside `rootfs`) to the host path `dst`."""
    with inroot.locate(str(rootfs), src, follow_last=follow) as loc:
        if loc.st is None:
            raise inroot.MissingPath(src)
        if not loc.name:  # the root itself: its contents
            _get_tree(loc.parent_fd, loc.st, dst)
            return
        dst_st = _host_lstat(dst)
        if _is_dir(dst_st):
            inside = not (_is_dir(loc.st) and _contents_only(src))
            target = os.path.join(dst, loc.name) if inside else dst
        else:
            _check_target(loc.st, dst_st, dst)
            target = dst
        _get(loc.parent_fd, loc.name, loc.st, target, {})


def _host_lstat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)  # the host side is the user's own: follow as cp(1) does
    except FileNotFoundError:
        return None


def _get(
    dir_fd: int, name: str, st: os.stat_result, dst: str, links: dict[tuple[int, int], str]
) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        child = inroot.open_child_dir(dir_fd, name)
        try:
            _get_tree(child, st, dst, links)
        finally:
            os.close(child)
        return
    existing = _host_lstat(dst)
    if _is_dir(existing) and not os.path.islink(dst):
        raise ConflictError(f"cannot overwrite directory {dst} with a non-directory")
    if existing is not None or os.path.islink(dst):
        os.unlink(dst)
    key = (st.st_dev, st.st_ino)
    if stat.S_ISREG(mode) and st.st_nlink > 1 and key in links:
        os.link(links[key], dst)
        return
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(name, dir_fd=dir_fd), dst)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        return
    if stat.S_ISREG(mode):
        src = os.open(name, _READ, dir_fd=dir_fd)
        try:
            out = os.open(dst, _NEW_FILE, 0o600)
            try:
                _copy_fd(src, out, st.st_size)
                os.fchmod(out, stat.S_IMODE(mode))
                os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(out)
        finally:
            os.close(src)
        links[key] = dst
    elif stat.S_ISFIFO(mode):
        os.mkfifo(dst, stat.S_IMODE(mode))


def _get_tree(
    fd: int, st: os.stat_result, dst: str, links: dict[tuple[int, int], str] | None = None
) -> None:
    links = {} if links is None else links
    existing = _host_lstat(dst)
    if existing is not None and not _is_dir(existing):
        raise ConflictError(f"cannot overwrite non-directory {dst} with a directory")
    if existing is None:
        os.mkdir(dst, 0o700)
    with os.scandir(fd) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            child_st = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
            _get(fd, entry.name, child_st, os.path.join(dst, entry.name), links)
    os.chmod(dst, stat.S_IMODE(st.st_mode) | stat.S_IWUSR)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
