"""The pieces of a `tree.Tree`: nodes, inodes, the watcher protocol (see layer/tree.py
for the rules they carry out)."""

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
        self.deferred: list[tuple[Node, str]] | None = None


class Node:
    """A path in the tree: a leaf (this class), a directory (`Dir`) or deleted (`Gone`).
    What only directories have is class-level here, so a leaf (nearly every entry) holds
    three slots (docs/design.md §11)."""

    __slots__ = ("entry", "inode", "layer")
    kind: int = LEAF
    hide: int = KEEP  # what a directory hides below (module constants); leaves: KEEP
    children: dict[str, Node] | None = None  # a directory's; None for others

    def __init__(self, entry: int | None, layer: int, inode: Inode | None = None) -> None:
        self.entry = entry
        self.layer = layer
        self.inode = inode


class Gone(Node):
    """A path the layers deleted (a whiteout)."""

    __slots__ = ()
    kind = GONE


class Dir(Node):
    """A directory. One without an entry is implicit: made by a layer for an entry below
    it (`layer` >= 0), or only holding whiteouts for a directory the tree has not seen
    (`layer` -1)."""

    __slots__ = ("children", "hide")
    kind = DIR

    def __init__(self, entry: int | None, layer: int, hide: int = KEEP) -> None:
        super().__init__(entry, layer)
        self.hide = hide
        self.children: dict[str, Node] | None = {}


class Watcher(Protocol):
    """Told of each change as a layer applies (`added` after the change, the others
    before it). A node handed over as `old` leaves the filesystem with its whole
    subtree; it may be GONE or a holder (`is_holder`), which held nothing."""

    def opaque(self, index: int, dir_parts: list[str], directory: Node) -> None: ...
    def whiteout(self, index: int, dir_parts: list[str], target: str, old: Node | None) -> None: ...
    def replaced(self, index: int, old: Node, parts: list[str]) -> None:
        """`old` gives way to an implicit directory made for the entry at `parts`."""

    def added(
        self, index: int, kind: str, size: int, parts: list[str], old: Node | None, new: Node
    ) -> None:
        """An entry of tar type `kind` and `size` data bytes is now `new` at `parts`;
        `old` was there (`old is new`: a directory's metadata changed, children stay)."""


def is_holder(node: Node) -> bool:
    """A directory node no entry made: it only holds whiteouts for a lower directory."""
    return node.kind == DIR and node.entry is None and node.layer < 0


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
