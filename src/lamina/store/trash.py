"""Deleted blobs wait in a trash until no reader can still need them.

Blobs never change; only their deletion can hurt a reader that has read
index.json and has yet to open the blobs it names. So:
- a reader holds a SHARED flock on `STORE/lamina/readers` from before it first
  reads index.json until it is done (`ReaderLock`, held by the Store; a CLI
  command holds it for its whole life);
- a writer never unlinks a blob: it moves it into `STORE/lamina/trash/` (one rename
  on the same filesystem), where readers still find it (BlobStore looks there
  second);
- the trash is emptied only by whoever takes that flock EXCLUSIVELY without
  waiting (`empty`): if a reader is there, the next writer tries again.
A reader never waits for a writer except while the trash is being emptied; a
writer never waits for a reader. The blobs a reader sees are those of one index.json.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import BinaryIO

from lamina import digest
from lamina.store.headerindex import INDEX_DIR

READERS = "readers"
TRASH = "trash"


class ReaderLock:
    """A shared hold on the store's blobs, taken once and kept until released."""

    def __init__(self, state: Path) -> None:
        self.path = state / READERS
        self._file: BinaryIO | None = None

    def hold(self) -> None:
        if self._file is None:
            self._file = open(self.path, "a+b")  # noqa: SIM115 - held until released
            fcntl.flock(self._file.fileno(), fcntl.LOCK_SH)  # waits only while trash empties

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None


def trash_path(state: Path, dig: str) -> Path:
    return state / TRASH / digest.hex_of(dig)


def discard(blob: Path, state: Path, dig: str) -> int:
    """Move a blob from blobs/ into the trash; returns its size (0 if it was not there).
    A layer's header index (store/headerindex.py) goes with it."""
    with contextlib.suppress(OSError):
        (state / INDEX_DIR / dig.partition(":")[2]).unlink()
    target = trash_path(state, dig)
    target.parent.mkdir(exist_ok=True)
    try:
        size = blob.stat().st_size
        os.replace(blob, target)
    except FileNotFoundError:
        return 0
    return size


def size(state: Path) -> int:
    folder = state / TRASH
    if not folder.is_dir():
        return 0
    return sum(e.stat().st_size for e in os.scandir(folder) if e.is_file(follow_symlinks=False))


def empty(state: Path) -> int | None:
    """Delete the trash if no reader holds the store; returns bytes freed, None if busy."""
    folder = state / TRASH
    if not folder.is_dir() or not any(os.scandir(folder)):
        return 0
    fd = os.open(state / READERS, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        freed = 0
        for entry in os.scandir(folder):
            freed += entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        return freed
    finally:
        os.close(fd)
