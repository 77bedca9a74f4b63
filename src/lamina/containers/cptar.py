"""`cp` with a tar stream on one side, as `docker cp` does with `-`.

    tar_out(rootfs, "/etc", sys.stdout.buffer)   cp CONTAINER:/etc -   (etc/, etc/hosts, ...)
    tar_in(rootfs, "/srv", sys.stdin.buffer)     cp - CONTAINER:/srv

Out: a tar of PATH named by its last part (PATH's contents for `/`), written as
`export` writes (tree order, hardlinks kept, owners as commit records them).
In: PATH must be an existing directory (Docker: "destination ... must be a
directory"); the tar (plain, gzip or zstd) is extracted into it as a layer is applied,
owners kept when we are root. No entry can land outside PATH: a name whose `..` climbs
above it, or a symlink that would lead out, fails the copy (UnsafePathError). As in a
layer, `.wh.` names are whiteouts (tars from `export` and `cp ... -` have none).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from lamina.containers import inroot
from lamina.errors import InvalidInputError
from lamina.layer import compression
from lamina.layer.apply import apply_layers
from lamina.layer.fsdiff import export_entry, export_tree, user_as_root


def tar_out(rootfs: Path, path: str, out: BinaryIO, follow: bool = False) -> None:
    """Write PATH of the container (with `follow`, a symlink PATH is followed) as a tar."""
    with inroot.locate(str(rootfs), path, follow_last=follow) as loc:
        if loc.st is None:
            raise inroot.MissingPath(path)
        if not loc.name:  # the root itself: its contents
            export_tree(rootfs, out, user_as_root())
        else:
            export_entry(loc.parent_fd, loc.name, out, user_as_root())


def tar_in(rootfs: Path, path: str, stream: BinaryIO, shown: str) -> None:
    """Extract the tar `stream` into the container directory PATH (`shown` in messages)."""
    with inroot.locate(str(rootfs), path, follow_last=True) as loc:
        if not loc.is_dir:
            raise InvalidInputError(f'destination "{shown}" must be a directory')
        target = rootfs if not loc.name else Path(f"/proc/self/fd/{loc.parent_fd}/{loc.name}")
        _, plain = compression.auto_decompressed(stream)
        apply_layers([plain], target)
