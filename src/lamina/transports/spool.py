"""An archive that comes through a pipe (stdin, or a whole-archive gzip/zstd file), kept on
disk in one pass, so its members can be read at random and its layers written only once.

As the (decompressed) tar streams in, each regular member bigger than BIG goes into a
file of its own, hashed as it is written: a `Spool`. `lamina load` moves a layer's spool
into the store after checking it (store/ingest.py) instead of copying its bytes a second
time. The small members (manifest.json, configs, index.json) go one after another into
one shared file. Links and other entries are kept as entries only, never made on disk.

The tar is read by TarReader (Go's verdicts: a damaged header is invalid input, never an
early end); after its end-of-archive marker at most MAX_TRAILING bytes may follow, so a
decompression bomb's zeros stop there, not when the disk is full. Everything lives in
one new directory under `scratch` (the store's temp space): the caller removes it, and
on failure it is gone before `spool` returns.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from lamina import digest
from lamina.errors import InvalidInputError
from lamina.image import Spool
from lamina.layer import compression
from lamina.layer import tarformat as tf
from lamina.layer.tarcheck import MAX_TRAILING
from lamina.layer.tarstream import Member as TarMember
from lamina.layer.tarstream import TarReader
from lamina.progress import Progress, Task
from lamina.transports.tarfs import Member, SpooledFS, normal

BIG = 1 << 20
_KINDS = {tf.REGULAR: "file", tf.DIRECTORY: "dir", tf.SYMLINK: "symlink", tf.HARDLINK: "hardlink"}


def spool(
    stream: BinaryIO, scratch: Path, label: str, progress: Progress | None = None
) -> tuple[SpooledFS, Path]:
    """Read the archive `stream` (compressed or not) to its end; (its members, the
    directory that holds them, for the caller to remove)."""
    kind, plain = compression.auto_decompressed(stream)
    folder = Path(tempfile.mkdtemp(dir=scratch, prefix="input-"))
    task = (progress or Progress.null()).task(f"Reading {label}", None)
    try:
        fs = _read(_Pipe(plain, task), folder, label)
        task.done()
        return fs, folder
    except BaseException as exc:  # Ctrl-C and SIGTERM too: never leave the copy behind
        shutil.rmtree(folder, ignore_errors=True)
        if not isinstance(exc, compression.DECOMPRESSION_ERRORS) or not compression.damaged(exc):
            raise
        what = f"{kind}-compressed " if kind else ""
        raise InvalidInputError(f"{label}: {what}data is truncated or corrupt ({exc})") from None


def _read(plain: _Pipe, folder: Path, label: str) -> SpooledFS:
    members: dict[str, Member] = {}
    spools: dict[str, Spool] = {}
    small_path = folder / "small"
    with open(small_path, "wb") as small:
        reader = TarReader(plain, label)  # type: ignore[arg-type]
        for n, m in enumerate(reader):
            name, kind = normal(m.name), _KINDS.get(m.type, "other")
            old = spools.pop(name, None)
            if old is not None:  # a later member of the same name wins, as in TarFS
                old.path.unlink()
            offset = small.tell()
            if kind == "file" and m.data_size > BIG:
                spools[name] = _write_big(reader, m, folder / f"m{n}")
            elif kind == "file":
                for chunk in reader.data(m):
                    small.write(chunk)
            members[name] = Member(name, offset, m.data_size, kind, m.linkname)
        _no_more(plain, label)
    if not members:
        raise InvalidInputError(
            f"{label} is empty or not a tar archive",
            "check that the input is complete and is an image archive",
        )
    return SpooledFS(label, members, spools, small_path)


class _Pipe:
    """The stream read front to back only (a decompressor claims it can seek, at a cost),
    its bytes counted on the progress task."""

    def __init__(self, raw: BinaryIO, task: Task) -> None:
        self._raw, self._task = raw, task

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._task.advance(len(data))
        return data

    def seekable(self) -> bool:
        return False


def _write_big(reader: TarReader, member: TarMember, path: Path) -> Spool:
    hasher = digest.Hasher()
    with open(path, "wb") as out:
        for chunk in reader.data(member):
            hasher.update(chunk)
            out.write(chunk)
    return Spool(path, hasher.digest)


def _no_more(plain: _Pipe, label: str) -> None:
    """What follows the end-of-archive marker: padding, at most MAX_TRAILING bytes."""
    trailing = 0
    while chunk := plain.read(digest.CHUNK):
        trailing += len(chunk)
        if trailing > MAX_TRAILING:
            raise InvalidInputError(
                f"{label} goes on for more than {MAX_TRAILING} bytes after its "
                "end-of-archive marker",
                "that is not a tar but damage or a decompression bomb",
            )
