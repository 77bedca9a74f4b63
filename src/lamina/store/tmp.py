"""Temp space in the store, owned by live processes; what dead ones left is reclaimed.

`STORE/lamina/tmp/` holds one directory per process that needs temp space
(`own-*`, a TempSpace of its Store), made the first time it asks. The process holds
an exclusive flock on that directory's own fd for as long as it uses it, and
everything it stages goes inside: transactions, spooled input, scratch dirs, atomic writes.
The kernel drops the flock when its holder dies, however it dies (SIGKILL
included), so "its flock can be taken" means exactly "its owner is dead" - unlike
a PID, which the system hands out again.

`reclaim` (each transaction calls it under the store's lock, and `system check
--repair`) deletes every entry of tmp/ whose flock it can take, holding that flock
while it deletes; an owner that lost the race for its brand-new directory to a
reclaimer sees it gone and makes another. Anything in tmp/ that is not a directory
(files of lamina versions before this one) has no owner and is deleted too. The
cost is one open and one flock per entry of tmp/ (per live or dead process), never
per image. An owned directory is removed when its process exits normally (SIGINT
and SIGTERM unwind into a normal exit, see lamina.cli.app).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

PREFIX = "own-"


@dataclass(frozen=True)
class Leftover:
    """An entry of tmp/ that no live process owns."""

    path: Path
    size: int


class TempSpace:
    """One owner's directory under `tmp_root`, made (and flocked) on first use.

    It is removed when its owner (a Store) is garbage collected or the process exits
    normally; a forked child never removes its parent's.
    """

    def __init__(self, tmp_root: Path) -> None:
        self.root = tmp_root
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._done: weakref.finalize[..., TempSpace] | None = None

    def path(self) -> Path:
        with self._lock:
            if self._path is None:
                path, fd = _make(self.root)
                self._done = weakref.finalize(self, _remove, path, fd, os.getpid())
                self._path = path
            return self._path

    def release(self) -> None:
        """Remove the directory now (it is made again when needed)."""
        with self._lock:
            if self._done is not None:
                self._done()
            self._path = self._done = None


def _make(tmp_root: Path) -> tuple[Path, int]:
    tmp_root.mkdir(parents=True, exist_ok=True)
    while True:
        path = Path(tempfile.mkdtemp(dir=tmp_root, prefix=PREFIX))
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # a reclaimer took it before we could lock it
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits only while a reclaimer deletes it
        if _same_inode(path, fd):
            return path, fd
        os.close(fd)


def _remove(path: Path, fd: int, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def _same_inode(path: Path, fd: int) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def leftovers(tmp_root: Path) -> list[Leftover]:
    """What dead processes left in `tmp_root` (nothing is deleted)."""
    return _scan(tmp_root, delete=False)


def reclaim(tmp_root: Path) -> list[Leftover]:
    """Delete what dead processes left in `tmp_root`; returns what was deleted."""
    return _scan(tmp_root, delete=True)


def _scan(tmp_root: Path, delete: bool) -> list[Leftover]:
    try:
        entries = list(os.scandir(tmp_root))
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        path = Path(entry.path)
        if not entry.is_dir(follow_symlinks=False):
            found.append(Leftover(path, _lstat_size(path)))
            if delete:
                path.unlink(missing_ok=True)
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
            found.append(Leftover(path, tree_size(path)))
            if delete:
                shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
    return found


def _lstat_size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return 0


def tree_size(root: Path) -> int:
    """Bytes of the files under `root` (iteratively: any depth)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            total += _lstat_size(Path(dirpath, name))
    return total
