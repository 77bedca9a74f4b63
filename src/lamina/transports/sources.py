"""Open whatever the user hands to `load`: a file, stdin, or a directory.

Recognises docker-archive (any of its layouts), oci-archive and OCI layout
directories; a whole archive that was gzip- or zstd-compressed (`docker save |
gzip`), like one read from a pipe, is kept on disk first (transports/spool.py), since
tar members are read at random.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lamina.errors import InvalidInputError, NotFoundError
from lamina.image import Image
from lamina.layer import compression
from lamina.progress import Progress
from lamina.spec import Platform
from lamina.transports import docker_archive, oci_layout
from lamina.transports.spool import spool
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


@contextmanager
def open_archive(
    path: str | None,
    scratch: Path,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
) -> Iterator[ArchiveFS]:
    """An ArchiveFS for a path ("-" or None: stdin); temp files are removed on exit."""
    temp: Path | None = None
    fs: ArchiveFS
    try:
        if path in (None, "-"):
            fs, temp = spool(stdin or sys.stdin.buffer, scratch, "standard input", progress)
        else:
            p = Path(path)
            if p.is_dir():
                fs = DirFS(p)
            elif not p.exists():
                raise NotFoundError(f"{path}: no such file or directory")
            else:
                with open(p, "rb") as f:
                    if compression.sniff(f.read(8)):
                        f.seek(0)
                        fs, temp = spool(f, scratch, path, progress)
                if temp is None:
                    fs = TarFS(p, path)
        try:
            yield fs
        finally:
            fs.close()
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
