"""Writing files so that no reader sees half of one, and outputs that respect what PATH is.

- `replacing(path)`: a new temp file beside `path` (or in `tmp_dir`, which must be on the
  same filesystem). When the block ends without an error it is flushed, fsynced and
  renamed over `path`, then the directory is fsynced: readers see the old bytes or the
  new, never half. On any failure the temp file is removed and `path` is untouched.
  (Outputs skip the two fsyncs, as they always did: see `replacing`.)
- `write_atomic(path, data)`: the same, for bytes in hand.
- `written_once(path)`: a new file written from start to end that nothing reads back
  soon (a squash's new layer): its pages are sent to disk as it grows, so the fsync
  that makes it durable has little left to wait for.
- `staged(dir)`: the temp file alone (fsynced, removed on failure), for a caller that
  learns its name later (a blob, named by its digest once it is written).
- `output(out)`: where a command's `-o PATH` (or stdout) goes, as a stream to write into.
  A regular file, a path that does not exist yet, or a symlink to either is replaced as
  `replacing` does (through a symlink its target is replaced, the link stays), so a
  failed write leaves the old file, or nothing. Anything else is written IN PLACE as a
  stream: a character device (/dev/null), a FIFO, a socket, or a path that reaches an
  open descriptor (/dev/stdout, /dev/fd/N, /proc/PID/fd/N, whatever that descriptor is);
  renaming over those would put a regular file where the device or pipe was. A directory
  is refused. A stream given instead of a path is written as it is.

Temp files are named `.NAME.partial-PID-RANDOM`, so a leftover of a killed process says
whose it was.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

from lamina.errors import UsageError

WRITEBACK_STEP = 32 << 20  # bytes written between two writebacks started


class _WritebackFile(io.FileIO):
    """A raw file that, every WRITEBACK_STEP bytes, asks the kernel to write back what
    was written before (see `written_once`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "wb")
        self._written = self._sent = 0

    def write(self, data: object) -> int:
        n = super().write(data)  # type: ignore[arg-type]
        self._written += n or 0
        if self._written - self._sent >= WRITEBACK_STEP:
            # DONTNEED starts writeback of the range's dirty pages and drops its clean
            # ones (Linux); Python has no sync_file_range, the gentler call
            os.posix_fadvise(
                self.fileno(), self._sent, self._written - self._sent, os.POSIX_FADV_DONTNEED
            )
            self._sent = self._written
        return n or 0


def written_once(path: Path, buffer: int = 1 << 20) -> BinaryIO:
    """A buffered stream writing the new file `path` (see module doc). Without
    posix_fadvise (not Linux) a plain file. The caller still fsyncs it."""
    if not hasattr(os, "posix_fadvise"):
        return open(path, "wb")
    return io.BufferedWriter(_WritebackFile(path), buffer)


# the directories whose entries are a process's open descriptors
_FD_DIR = re.compile(r"/proc/(?:self|thread-self|\d+)(?:/task/\d+)?/fd")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(directory: Path, name: str, mode: int) -> tuple[int, Path]:
    """A new file `.NAME.partial-PID-RANDOM` in `directory`, opened for writing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        tmp = directory / f".{name[:200]}.partial-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue


@contextmanager
def staged(
    directory: Path, name: str = "blob", mode: int = 0o600, durable: bool = True
) -> Iterator[tuple[BinaryIO, Path]]:
    """A new temp file in `directory` and its path: flushed (and fsynced, when `durable`)
    when the block ends well (the caller then renames it), removed when it does not."""
    fd, tmp = _create(directory, name, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f, tmp
            f.flush()
            if durable:
                os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def replacing(
    path: Path, tmp_dir: Path | None = None, mode: int = 0o600, durable: bool = True
) -> Iterator[BinaryIO]:
    """A stream whose bytes replace `path` atomically when the block succeeds (see module doc).

    `mode` is given at creation (the umask applies), so a secret never sits in a file
    others can read. `durable` (the store's files) fsyncs the file before the rename and
    the directory after it; a command's output skips that, as `docker save` does: readers
    still never see half a file, only a power cut can cost the new one.
    """
    with staged(tmp_dir or path.parent, path.name, mode, durable) as (f, tmp):
        yield f
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, tmp_dir: Path | None = None, mode: int = 0o600) -> None:
    """Replace `path` with `data` atomically (see `replacing`)."""
    with replacing(path, tmp_dir, mode) as f:
        f.write(data)


@contextmanager
def output(out: BinaryIO | str | Path) -> Iterator[BinaryIO]:
    """The stream to write a command's output into (see module doc for what PATH may be)."""
    if not isinstance(out, (str, Path)):
        yield out
        return
    path = Path(out)
    if _is_stream(path):
        f = _open_or_fail(path)
        with f:
            yield f
        return
    # a symlink (even a dangling one) keeps pointing where it did: its target is replaced
    target = Path(os.path.realpath(path))
    with ExitStack() as stack:
        try:  # mode as `open(path, "w")` would make it
            f = stack.enter_context(replacing(target, mode=0o666, durable=False))
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        yield f  # renamed into place when the caller's block ends well, else removed


def _is_stream(path: Path) -> bool:
    """True when `path` must be written in place rather than renamed over."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"cannot write to {path}: it is a directory", "give a file path")
    return not stat.S_ISREG(st.st_mode) or _reaches_descriptor(path)


def _reaches_descriptor(path: Path) -> bool:
    """Whether `path` (through symlinks) names an open descriptor, as /dev/stdout does."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlinks followed
        if _FD_DIR.fullmatch(os.path.realpath(os.path.dirname(current))):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return False


def _open_or_fail(path: Path) -> BinaryIO:
    try:
        return open(path, "wb")  # the caller's `with` closes it
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _cannot_write(path: Path, exc: OSError) -> UsageError:
    return UsageError(f"cannot write to {path}: {exc.strerror or exc}", "check the -o path")
