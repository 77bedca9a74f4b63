"""The tree as it was before the compact tree (lamina 52bcde0, unchanged): an oracle.

The filesystem a run of layers describes, built from tar headers alone.

A `Tree` applies layers bottom-up to nested dicts of `Node`s, recording for every
path which entry (layer, member) put it there. Nothing is read but headers; nothing
is ever scanned: a whiteout detaches a subtree in O(1), a lookup costs one dict step
per path part. Bottom-up (not top-down: docs/design.md §7) because a hardlink must be
resolved against the filesystem as it was when its layer was applied, which bottom-up
is one lookup; the cost is the same (every header is read once either way).

Rules (those of the OCI layer spec, applied the way overlayfs sees a stack):
- Each layer's whiteouts and opaque markers act first, on what the layers below made;
  then its entries apply in tar order. So `.wh.x` plus a new `x` in one layer means
  "replace x", and a same-layer entry is never hidden by its own layer's whiteouts.
- A directory entry on a directory updates its metadata and keeps its children; any
  other entry replaces whatever was at its path, subtree included.
- An entry below a path that is not a directory (a file, a symlink, a deleted path)
  gets a fresh implicit directory there, as overlayfs shows an upper directory over a
  lower non-directory. Symlinks are never followed.
- A whiteout or opaque marker below a non-directory has nothing to hide: ignored.
- A hardlink shares the inode its target path held at that moment; replacing the
  target later does not change the link (every tar entry is a new inode).

The tree also tracks what the layers hide of the filesystem BELOW them (`hide`), so
the range can be written out as a diff against that lower filesystem (see squash).
A `Watcher` may observe every change as it is applied (layer/costs.py counts with it).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, Protocol

from lamina.layer import paths
from lamina.layer import tarformat as tf
from lamina.layer.tarstream import Member, TarReader
from lamina.layer.whiteout import Deletion, Kind, sort_layer

DIR, LEAF, GONE = 0, 1, 2
# What a directory hides of the same path in the filesystem below the layers:
KEEP = 0  # nothing: lower contents show through (merged)
OPAQUE = 1  # the lower directory's contents (its own metadata stays)
RECREATED = 2  # the lower path itself (deleted or replaced, then made a directory again)

BELOW = -1  # Inode.layer of a file that lives below the layers
DANGLING = -2  # Inode.layer of a hardlink whose target does not exist


class Inode:
    """A file's identity and content: the entry that created it. Hardlinks share it."""

    __slots__ = ("_path", "deferred", "emitted", "layer", "member")

    def __init__(self, layer: int, member: Member | None, path: str | None) -> None:
        self.layer = layer
        self.member = member
        self._path = path  # None: the member's name, worked out when first asked
        self.emitted: str | None = None  # used by writers: where the content went
        self.deferred: list[tuple[Node, str]] | None = None

    @property
    def path(self) -> str:
        """Where the entry that made this inode put it."""
        if self._path is None:
            assert self.member is not None
            self._path = paths.normalise(self.member.name)
        return self._path


class Node:
    """A path in the tree: a directory, a leaf, or GONE. A directory without an entry
    is implicit: made by a layer for an entry below it (`layer` >= 0), or only holding
    whiteouts for a directory the tree has not seen (`layer` -1)."""

    __slots__ = ("children", "entry", "hide", "inode", "kind", "layer")

    def __init__(
        self,
        kind: int,
        entry: Member | None,
        layer: int,
        inode: Inode | None = None,
        hide: int = KEEP,
    ) -> None:
        self.kind = kind
        self.entry = entry
        self.layer = layer
        self.inode = inode
        self.hide = hide
        self.children: dict[str, Node] | None = {} if kind == DIR else None


class Watcher(Protocol):
    """Told of each change as a layer applies (`added` after the change, the others
    before it). A node handed over as `old` leaves the filesystem with its whole
    subtree; it may be GONE or a holder (`is_holder`), which held nothing."""

    def opaque(self, index: int, dir_parts: list[str], directory: Node) -> None: ...
    def whiteout(self, index: int, dir_parts: list[str], target: str, old: Node | None) -> None: ...
    def replaced(self, index: int, old: Node, parts: list[str]) -> None:
        """`old` gives way to an implicit directory made for the entry at `parts`."""

    def added(
        self, index: int, member: Member, parts: list[str], old: Node | None, new: Node
    ) -> None:
        """`member` is now `new` at `parts`; `old` was there (`old is new`: a directory's
        metadata changed and its children stay)."""


def _dir_children(node: Node) -> dict[str, Node]:
    assert node.children is not None
    return node.children


class Tree:
    """Layers applied bottom-up; `root` is the directory "" (never deleted)."""

    def __init__(
        self, below_identity: Callable[[str], object] = str, watcher: Watcher | None = None
    ) -> None:
        """`below_identity(path)` names the inode a lower path holds, so that hardlinks
        to two names of one lower file share one BELOW inode (default: the path)."""
        self.root = Node(DIR, None, -1)
        self._below_identity = below_identity
        self._below_inodes: dict[object, Inode] = {}
        self._watcher = watcher

    # -- building ------------------------------------------------------------------------
    def add_layer(self, index: int, stream: BinaryIO, what: str = "layer") -> None:
        """Apply the headers of one layer (`index` is recorded in every node it makes)."""
        deletions, entries = sort_layer(TarReader(stream, what))
        self.apply(index, deletions, entries)

    def apply(
        self, index: int, deletions: list[Deletion], entries: list[tuple[Member, list[str]]]
    ) -> None:
        """Apply one layer already split by `whiteout.sort_layer` (kept for reuse)."""
        for kind, dir_parts, target in deletions:
            self._delete(kind, dir_parts, target, index)
        for member, parts in entries:
            self._add(member, parts, index)

    def _delete(self, kind: Kind, dir_parts: list[str], target: str, index: int) -> None:
        directory = self._existing_dir(dir_parts)
        if directory is None:
            return  # below a non-directory: nothing there to hide
        if kind is Kind.OPAQUE:
            if self._watcher is not None:
                self._watcher.opaque(index, dir_parts, directory)
            directory.children = {}
            directory.hide = max(directory.hide, OPAQUE)
        else:
            children = _dir_children(directory)
            if self._watcher is not None:
                self._watcher.whiteout(index, dir_parts, target, children.get(target))
            children[target] = Node(GONE, None, index)

    def _existing_dir(self, parts: list[str]) -> Node | None:
        """The directory at `parts`, made implicit where the tree knows nothing yet."""
        node = self.root
        for name in parts:
            children = _dir_children(node)
            child = children.get(name)
            if child is None:
                child = children[name] = Node(DIR, None, -1)
            elif child.kind != DIR:
                return None
            node = child
        return node

    def _parent_for_entry(self, parts: list[str], index: int) -> Node:
        """The parent directory of an entry, made (implicitly, by layer `index`) if needed."""
        node = self.root
        for name in parts[:-1]:
            children = _dir_children(node)
            child = children.get(name)
            if child is None or child.kind != DIR:
                if child is not None and self._watcher is not None:
                    self._watcher.replaced(index, child, parts)
                hide = KEEP if child is None else RECREATED
                child = children[name] = Node(DIR, None, index, hide=hide)
            elif child.entry is None and child.layer < 0:
                child.layer = index  # was only a holder for whiteouts; now it exists
            node = child
        return node

    def _add(self, member: Member, parts: list[str], index: int) -> None:
        if not parts:
            if member.type == tf.DIRECTORY:
                self.root.entry, self.root.layer = member, index
            return  # a root that is not a directory is meaningless: ignored
        children = _dir_children(self._parent_for_entry(parts, index))
        name = parts[-1]
        existing = children.get(name)
        if member.type == tf.DIRECTORY:
            if existing is not None and existing.kind == DIR:
                existing.entry, existing.layer = member, index
                new = existing
            else:
                hide = KEEP if existing is None else RECREATED
                new = children[name] = Node(DIR, member, index, hide=hide)
        elif member.type == tf.HARDLINK:
            new = children[name] = Node(LEAF, member, index, self._resolve(member.linkname))
        else:
            new = children[name] = Node(LEAF, member, index, Inode(index, member, None))
        if self._watcher is not None:
            self._watcher.added(index, member, parts, existing, new)

    def _resolve(self, linkname: str) -> Inode:
        """The inode a hardlink to `linkname` gets now."""
        path = paths.normalise(linkname, "hardlink target")
        node, hidden = self.find(path)
        if node is None and not hidden:
            return self._below(path)
        if node is not None and node.kind == LEAF and node.inode is not None:
            return node.inode
        return Inode(DANGLING, None, path)

    def _below(self, path: str) -> Inode:
        key = self._below_identity(path)
        inode = self._below_inodes.get(key)
        if inode is None:
            inode = self._below_inodes[key] = Inode(BELOW, None, path)
        return inode

    def leaves(self) -> Iterator[tuple[str, Node]]:
        """Every leaf with its path (any order)."""
        stack: list[tuple[str, Node]] = [(paths.ROOT, self.root)]
        while stack:
            path, node = stack.pop()
            for name, child in (node.children or {}).items():
                if child.kind == LEAF:
                    yield paths.join(path, name), child
                elif child.kind == DIR:
                    stack.append((paths.join(path, name), child))

    def clear_marks(self) -> None:
        """Forget what a writer noted on the inodes, so the tree can be written again."""
        for _, leaf in self.leaves():
            if leaf.inode is not None:
                leaf.inode.emitted = leaf.inode.deferred = None
        for inode in self._below_inodes.values():
            inode.emitted = inode.deferred = None

    # -- queries -------------------------------------------------------------------------
    def find(self, path: str) -> tuple[Node | None, bool]:
        """(node at `path`, or None when the layers did not make that path; whether the
        path as the filesystem below has it is hidden at the top)."""
        node = self.root
        hidden = False
        for name in path.split("/") if path else ():
            if node.kind != DIR:
                return None, True
            hidden = hidden or node.hide != KEEP
            child = _dir_children(node).get(name)
            if child is None:
                return None, hidden
            node = child
        if node is not self.root and is_holder(node):
            return None, hidden
        return node, hidden or node.kind != DIR or node.hide == RECREATED


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


def build(
    layers: Iterable[BinaryIO], what: str = "layer", below_identity: Callable[[str], object] = str
) -> Tree:
    """A tree of `layers` (bottom first): seekable files, each read from its start."""
    tree = Tree(below_identity)
    with gc_paused():
        for index, stream in enumerate(layers):
            stream.seek(0)
            tree.add_layer(index, stream, f"{what} {index}")
    return tree
