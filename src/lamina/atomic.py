"""Replacing a file so that readers see the old bytes or the new, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: Path, data: bytes, tmp_dir: Path | None = None, mode: int | None = None
) -> None:
    """Write `data` to a temp file in `tmp_dir` (default: beside `path`), fsync, rename.

    `tmp_dir` must be on the same filesystem as `path`. `mode` is set before any byte
    is written, so a secret never sits in a file others can read.
    """
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or path.parent, prefix=".atomic-")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
