"""Receive a Docker Engine's image export (`GET /images/get`) as it streams in.

The export is a docker-archive (legacy layout before Docker 25, OCI layout plus
manifest.json after), read here in one pass, in order, never held in memory:
- every file larger than SMALL goes straight into the sink's staging area (a store
  transaction) while its sha256 is computed; a hard link to it is left at its path
  in the directory `into`, so the archive reader finds it there. The sink adopts
  it under its digest: a layer the store already holds is dropped, not kept twice.
- smaller files (configs, manifest.json, repositories, OCI manifests) are written
  into `into`; symbolic links are recreated when they stay inside it.
Then `into` is an ordinary archive directory (DirFS): the usual reader checks every
layer's digest against its config's diff_id, and importing finds the layers already
staged, so each layer's bytes are written once.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from pathlib import Path
from typing import IO, BinaryIO

from lamina import digest
from lamina.errors import InvalidInputError
from lamina.image import LayerSink
from lamina.transports.tarfs import DirFS

SMALL = 1 << 16
CHUNK = 1 << 20


def _safe(name: str, label: str) -> str:
    norm = posixpath.normpath(name.lstrip("/"))
    if norm in (".", "") or norm.startswith("../") or norm == "..":
        raise InvalidInputError(f"{label}: archive member {name!r} leaves the archive")
    return norm


def _staged(src: IO[bytes], sink: LayerSink, path: Path) -> None:
    tmp = sink.staging_file()
    hasher = digest.Hasher()
    with open(tmp, "wb") as out:
        while chunk := src.read(CHUNK):
            hasher.update(chunk)
            out.write(chunk)
    os.link(tmp, path)
    sink.adopt(tmp, hasher.digest)


def receive(stream: BinaryIO, sink: LayerSink, into: Path, label: str) -> DirFS:
    """Read the export `stream` into `into` and `sink` (see module doc)."""
    try:
        # stream mode reads its source in `bufsize` pieces: the default (10 KiB) costs
        # about twice the CPU of hashing the bytes; 1 MiB reads keep it near that floor
        with tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK) as tar:
            for member in tar:
                name = _safe(member.name, label)
                path = into / name
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                if member.issym():
                    _safe(posixpath.join(posixpath.dirname(name), member.linkname), label)
                    os.symlink(member.linkname, path)
                    continue
                if not member.isfile():
                    continue
                src = tar.extractfile(member)
                assert src is not None
                if member.size > SMALL:
                    _staged(src, sink, path)
                else:
                    with open(path, "wb") as out:
                        shutil.copyfileobj(src, out)
    except (tarfile.TarError, EOFError) as exc:
        raise InvalidInputError(f"{label}: the export is not a readable tar ({exc})") from None
    return DirFS(into)
