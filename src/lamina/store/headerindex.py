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
time, never correctness. Docker's size of a layer (store/layersizes.py) is the sum of
its index's size column, streamed from the file (`content_size`); an index written or
rebuilt here goes through an IndexBuilder, spilled to the store's temp space past its
bound, so neither holds a layer's rows. A layer's index goes when the layer goes to the trash;
`system check` reports (and with --repair removes) index files whose layer is gone or
that are damaged.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from lamina import digest
from lamina.atomic import replacing
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.indexfile import Building, IndexBuilder, Scanned, scan
from lamina.layer.tarcheck import content_size
from lamina.layer.tarstream import TarReader

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

    def content_size(self, diff_id: str, stream: BinaryIO) -> int:
        """Docker's size of layer `diff_id` (whose tar is the real file `stream`): the
        sum of its kept index's size column, else of the entries read from `stream`, its
        index then rebuilt and kept as they go by (best effort)."""
        size = os.fstat(stream.fileno()).st_size
        found = self.scan(diff_id, size)
        if found is not None:
            self.loaded += 1
            return found.content_size
        what = f"stored layer {digest.short(diff_id, algorithm=True)}"
        total = 0
        try:
            with IndexBuilder(self._new_file) as index:
                stream.seek(0)
                for member in TarReader(stream, what):
                    index.add(member)
                    total += member.size
                index.tar_size = size
                self.built += 1
                self.keep(diff_id, index)
        except OSError:  # no temp space to spill to (a read-only store): the sum alone
            stream.seek(0)
            total = content_size(stream, what)
        return total

    def scan(self, diff_id: str, tar_size: int) -> Scanned | None:
        """What the kept index of `diff_id` says, if it is sound and of a tar of
        `tar_size` bytes; checked as it streams (no row is held)."""
        with contextlib.suppress(OSError), open(self.path(diff_id), "rb") as f:
            found = scan(f, diff_id)
            if found is not None and found.tar_size == tar_size:
                return found
        return None

    def rebuild(self, diff_id: str, stream: BinaryIO) -> None:
        """Read layer `diff_id`'s index from its tar, the seekable `stream`, and keep it."""
        with IndexBuilder.of(stream, self._new_file) as index:
            self.keep(diff_id, index)

    def _new_file(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="index-")
        os.close(fd)
        return Path(name)

    def keep(self, diff_id: str, index: Building) -> None:
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
