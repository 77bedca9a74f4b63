"""The header index of each stored layer, kept in STORE/lamina/index/<hex of diff_id>.

A layer's tar headers (paths, kinds, sizes, offsets of each header and its data; the
format is layer/headerindex.py's) are read once, as the layer streams into the store
(store/ingest.py: CheckedTar parses them anyway), or from a layer an operation wrote
(squash, commit, pull), and kept. Squash, analyze and diff then read the index, not
the tar (docs/design.md §11).

It is a cache, and only ever one: layers are content-addressed, so an index is right
for ever once it is right, and it says which layer it is of and carries its own sha256.
An index that is missing, damaged, of another version or another layer, or whose tar
size is not the layer file's, is rebuilt from the layer on demand and written back;
a store that cannot be written to only rebuilds it every time. Loss or damage costs
time, never correctness. A layer's index goes when the layer goes to the trash;
`system check` reports (and with --repair removes) index files whose layer is gone or
that are damaged.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from lamina import digest
from lamina.atomic import replacing
from lamina.layer.headerindex import HeaderIndex

INDEX_DIR = "index"


class HeaderIndexes:
    """The store's header indexes (see module doc). `built` counts the indexes this
    object had to read from a layer's tar, `loaded` those it found (tests use both)."""

    def __init__(self, state: Path, tmp_dir: Callable[[], Path]) -> None:
        self.dir = state / INDEX_DIR
        self._tmp_dir = tmp_dir
        self.built = 0
        self.loaded = 0

    def path(self, diff_id: str) -> Path:
        return self.dir / digest.hex_of(diff_id)

    def load(self, diff_id: str, tar_size: int | None = None) -> HeaderIndex | None:
        """The kept index of `diff_id` if it is sound (and, given `tar_size`, of a tar
        of that size); else None."""
        try:
            data = self.path(diff_id).read_bytes()
        except OSError:
            return None
        index = HeaderIndex.from_bytes(data, diff_id)
        if index is None or (tar_size is not None and index.tar_size != tar_size):
            return None
        self.loaded += 1
        return index

    def get(self, diff_id: str, stream: BinaryIO) -> HeaderIndex:
        """The index of layer `diff_id`, whose tar is the seekable `stream`: the kept
        one, else read from `stream` and kept for next time."""
        size = os.fstat(stream.fileno()).st_size if _has_fd(stream) else None
        index = self.load(diff_id, size)
        if index is None:
            index = HeaderIndex.of(stream, f"layer {digest.short(diff_id, algorithm=True)}")
            self.built += 1
            self.keep(diff_id, index)
        return index

    def keep(self, diff_id: str, index: HeaderIndex) -> None:
        """Write `index` as the index of `diff_id` (best effort: it is a cache)."""
        with contextlib.suppress(OSError):
            self.dir.mkdir(exist_ok=True)
            with replacing(self.path(diff_id), self._tmp_dir(), durable=False) as f:
                index.write(f, diff_id)

    def adopt(self, diff_id: str, staged: Path) -> None:
        """Move an index file written in a transaction's staging area into place."""
        with contextlib.suppress(OSError):
            self.dir.mkdir(exist_ok=True)
            os.replace(staged, self.path(diff_id))

    def remove(self, diff_id: str) -> None:
        with contextlib.suppress(OSError):
            self.path(diff_id).unlink()

    def files(self) -> Iterator[tuple[str, Path]]:
        """(diff_id, path) of every index file kept (a stray name: diff_id "")."""
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.dir):
                name = f"sha256:{entry.name}"
                yield (name if digest.is_digest(name) else ""), Path(entry.path)


def _has_fd(stream: BinaryIO) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True
