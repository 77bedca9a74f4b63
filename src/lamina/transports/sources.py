"""Open whatever the user hands to `load`: a file, stdin, or a directory.

Recognises docker-archive (any of its layouts), oci-archive and OCI layout
directories; a whole archive that was gzip- or zstd-compressed (`docker save |
gzip`) is decompressed to a temp file first, since tar members are read at random.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lamina.errors import InvalidInputError, NotFoundError
from lamina.image import Image
from lamina.layer import compression
from lamina.layer.tarcheck import CheckedTar
from lamina.spec import Platform
from lamina.transports import docker_archive, oci_layout
from lamina.transports.tarfs import ArchiveFS, DirFS, TarFS


def read_images(fs: ArchiveFS, platform: Platform | None = None) -> list[Image]:
    if docker_archive.is_docker_archive(fs):
        return docker_archive.read_archive(fs)
    if oci_layout.is_layout(fs):
        return oci_layout.read_layout(fs, platform)
    raise InvalidInputError(
        f"{fs.label} is not an image archive (no manifest.json, no oci-layout + index.json)",
        "pass a file made by docker/podman/lamina save, or an OCI layout",
    )


def _spool(stream: BinaryIO, scratch: Path, label: str) -> Path:
    """Copy a stream to a temp file, decompressing a compressed archive on the way. The
    tar is checked as it goes, so a bomb's zeros stop at the end-of-archive cap."""
    kind, plain = compression.auto_decompressed(stream)
    fd, tmp = tempfile.mkstemp(dir=scratch, prefix="input-", suffix=".tar")
    try:
        with open(fd, "wb") as out:
            shutil.copyfileobj(CheckedTar(plain, label, entry_rules=False), out, 1 << 20)
    except BaseException as exc:  # Ctrl-C and SIGTERM too: never leave the copy behind
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(exc, compression.DECOMPRESSION_ERRORS) or not compression.damaged(exc):
            raise
        what = f"{kind}-compressed " if kind else ""
        raise InvalidInputError(f"{label}: {what}data is truncated or corrupt ({exc})") from None
    return Path(tmp)


@contextmanager
def open_archive(
    path: str | None, scratch: Path, stdin: BinaryIO | None = None
) -> Iterator[ArchiveFS]:
    """An ArchiveFS for a path ("-" or None: stdin); temp files are removed on exit."""
    temp: Path | None = None
    fs: ArchiveFS
    try:
        if path in (None, "-"):
            temp = _spool(stdin or sys.stdin.buffer, scratch, "standard input")
            fs = TarFS(temp, "standard input")
        else:
            p = Path(path)
            if p.is_dir():
                fs = DirFS(p)
            elif not p.exists():
                raise NotFoundError(f"{path}: no such file or directory")
            else:
                with open(p, "rb") as f:
                    kind = compression.sniff(f.read(8))
                    if kind:
                        f.seek(0)
                        temp = _spool(f, scratch, path)
                fs = TarFS(temp or p, path)
        try:
            yield fs
        finally:
            fs.close()
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
