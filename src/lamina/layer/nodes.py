"""The pieces of a `tree.Tree`: node kinds, inodes, the watcher protocol (see
layer/tree.py for the rules they carry out; the nodes themselves are rows of
layer/noderows.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

DIR, LEAF, GONE = 0, 1, 2
# What a directory hides of the same path in the filesystem below the layers:
KEEP = 0  # nothing: lower contents show through (merged)
OPAQUE = 1  # the lower directory's contents (its own metadata stays)
RECREATED = 2  # the lower path itself (deleted or replaced, then made a directory again)

BELOW = -1  # Inode.layer of a file that lives below the layers
DANGLING = -2  # Inode.layer of a hardlink whose target does not exist


class Inode:
    """A file's identity and content: the entry (`layer`, row `entry`) that created it,
    shared by its hardlinks. A leaf nothing links to has none (see module doc)."""

    __slots__ = ("deferred", "emitted", "entry", "layer", "path")

    def __init__(self, layer: int, entry: int | None, path: str) -> None:
        self.layer = layer
        self.entry = entry
        self.path = path  # where the entry that made this inode put it
        self.emitted: str | None = None  # used by writers: where the content went
        self.deferred: list[tuple[int, str]] | None = None  # (node row, path) to link


class Watcher(Protocol):
    """Told of each change as a layer applies (`added` after the change, the others
    before it). Nodes are rows of `tree.nodes`. A node handed over as `old` leaves the
    filesystem with its whole subtree (still listed under it); it may be GONE or a
    holder (`NodeRows.is_holder`), which held nothing."""

    def opaque(self, index: int, dir_parts: list[str], directory: int) -> None: ...
    def whiteout(self, index: int, dir_parts: list[str], target: str, old: int | None) -> None: ...
    def replaced(self, index: int, old: int, parts: list[str]) -> None:
        """`old` gives way to an implicit directory made for the entry at `parts`."""

    def added(
        self, index: int, kind: str, size: int, parts: list[str], old: int | None, new: int
    ) -> None:
        """An entry of tar type `kind` and `size` data bytes is now `new` at `parts`;
        `old` was there (`old == new`: a directory's metadata changed, children stay)."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. Reading a layer makes a few objects per entry
    and keeps them all; the collector would rescan them again and again (half the time
    of a squash) though they hold no cycles. Collection resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
