"""The filesystem a run of layers describes, built from tar headers alone.

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

Memory (docs/design.md §11): a layer's entries stay in its `HeaderIndex` (arrays, no
object per entry); a node names its entry by row (`Node.entry`, `tree.member(node)`).
A leaf is a three-slot `Node`; what only a directory has lives on `Dir` (nodes.py).
A leaf gets an `Inode` only once a hardlink shares it (`inode_of`); until then its own
entry is its content. No layer's path parts are held beyond the entry being applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from lamina.layer import paths
from lamina.layer import tarformat as tf
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.nodes import BELOW as BELOW
from lamina.layer.nodes import DANGLING as DANGLING
from lamina.layer.nodes import DIR as DIR
from lamina.layer.nodes import GONE as GONE
from lamina.layer.nodes import KEEP as KEEP
from lamina.layer.nodes import LEAF as LEAF
from lamina.layer.nodes import OPAQUE as OPAQUE
from lamina.layer.nodes import RECREATED as RECREATED
from lamina.layer.nodes import Dir as Dir
from lamina.layer.nodes import Gone as Gone
from lamina.layer.nodes import Inode as Inode
from lamina.layer.nodes import Node as Node
from lamina.layer.nodes import Watcher as Watcher
from lamina.layer.nodes import gc_paused as gc_paused
from lamina.layer.nodes import is_holder as is_holder
from lamina.layer.tarstream import Member
from lamina.layer.whiteout import Kind


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
        self.root = Dir(None, -1)
        self.tables: dict[int, HeaderIndex] = {}  # layer index -> its entries
        self._below_identity = below_identity
        self._below_inodes: dict[object, Inode] = {}
        self._watcher = watcher

    # -- building ------------------------------------------------------------------------
    def add_layer(self, index: int, table: HeaderIndex) -> None:
        """Apply one layer's entries (`index` is recorded in every node it makes): its
        whiteouts and opaque markers first, then its other entries in tar order;
        whiteout-format bookkeeping is dropped (layer/whiteout.py)."""
        self.tables[index] = table
        deletions, skip = table.deletions()
        for kind, dir_parts, target in deletions:
            self._delete(kind, dir_parts, target, index)
        name, types = table.name, table.types
        for row in range(len(table)):
            if row not in skip:
                self._add(row, chr(types[row]), paths.split(name(row)), index, table)

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
            children[target] = Gone(None, index)

    def _existing_dir(self, parts: list[str]) -> Dir | None:
        """The directory at `parts`, made implicit where the tree knows nothing yet."""
        node = self.root
        for name in parts:
            children = _dir_children(node)
            child = children.get(name)
            if child is None:
                child = children[name] = Dir(None, -1)
            elif not isinstance(child, Dir):
                return None
            node = child
        return node

    def _parent_for_entry(self, parts: list[str], index: int) -> Dir:
        """The parent directory of an entry, made (implicitly, by layer `index`) if needed."""
        node = self.root
        for name in parts[:-1]:
            children = _dir_children(node)
            child = children.get(name)
            if not isinstance(child, Dir):
                if child is not None and self._watcher is not None:
                    self._watcher.replaced(index, child, parts)
                hide = KEEP if child is None else RECREATED
                child = children[name] = Dir(None, index, hide=hide)
            elif child.entry is None and child.layer < 0:
                child.layer = index  # was only a holder for whiteouts; now it exists
            node = child
        return node

    def _add(self, row: int, kind: str, parts: list[str], index: int, table: HeaderIndex) -> None:
        if not parts:
            if kind == tf.DIRECTORY:
                self.root.entry, self.root.layer = row, index
            return  # a root that is not a directory is meaningless: ignored
        children = _dir_children(self._parent_for_entry(parts, index))
        name = parts[-1]
        existing = children.get(name)
        if kind == tf.DIRECTORY:
            if existing is not None and existing.kind == DIR:
                existing.entry, existing.layer = row, index
                new = existing
            else:
                hide = KEEP if existing is None else RECREATED
                new = children[name] = Dir(row, index, hide=hide)
        elif kind == tf.HARDLINK:
            new = children[name] = Node(row, index, self._resolve(table.linkname(row)))
        else:
            new = children[name] = Node(row, index)
        if self._watcher is not None:
            self._watcher.added(index, kind, table.data_size(row), parts, existing, new)

    def _resolve(self, linkname: str) -> Inode:
        """The inode a hardlink to `linkname` gets now."""
        path = paths.normalise(linkname, "hardlink target")
        node, hidden = self.find(path)
        if node is None and not hidden:
            return self._below(path)
        if node is not None and node.kind == LEAF:
            return self.inode_of(node, path)
        return Inode(DANGLING, None, path)

    def _below(self, path: str) -> Inode:
        key = self._below_identity(path)
        inode = self._below_inodes.get(key)
        if inode is None:
            inode = self._below_inodes[key] = Inode(BELOW, None, path)
        return inode

    def inode_of(self, leaf: Node, path: str | None = None) -> Inode:
        """The inode of `leaf` (found at `path`), made now if nothing shared it yet."""
        if leaf.inode is None:
            assert leaf.entry is not None
            home = path if path is not None else self._home(leaf)
            leaf.inode = Inode(leaf.layer, leaf.entry, home)
        return leaf.inode

    def _home(self, leaf: Node) -> str:
        return paths.normalise(self.tables[leaf.layer].name(leaf.entry or 0))

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
    def member(self, node: Node) -> Member:
        """The full entry that made `node` (which must have one)."""
        assert node.entry is not None
        return self.tables[node.layer].member(node.entry)

    def content(self, leaf: Node) -> tuple[int, int | None]:
        """(layer, row) of the entry holding the content of `leaf` (row None, layer
        BELOW or DANGLING: not in these layers)."""
        inode = leaf.inode
        return (leaf.layer, leaf.entry) if inode is None else (inode.layer, inode.entry)

    def find(self, path: str) -> tuple[Node | None, bool]:
        """(node at `path`, or None when the layers did not make that path; whether the
        path as the filesystem below has it is hidden at the top)."""
        node: Node = self.root
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


    def hides_lower(self, path: str) -> bool:
        """Whether a directory above `path` hides the lower filesystem's `path` at the
        top: one replaced, re-created or made opaque in the layers."""
        node: Node = self.root
        for name in path.split("/")[:-1] if path else ():
            if node.kind != DIR or node.hide != KEEP:
                return True
            child = _dir_children(node).get(name)
            if child is None:
                return False
            node = child
        return node.kind != DIR or node.hide != KEEP


# Gives the header index of one layer of a stack (opened at its start): e.g. the
# store's cached one (store/headerindex.py); by default, read from the tar itself.
IndexOf = Callable[[int, BinaryIO], HeaderIndex]


def build(
    layers: Iterable[BinaryIO],
    what: str = "layer",
    below_identity: Callable[[str], object] = str,
    index_of: IndexOf | None = None,
) -> Tree:
    """A tree of `layers` (bottom first): seekable files, each read from its start
    (its headers, or only its header index when `index_of` has one)."""
    tree = Tree(below_identity)
    with gc_paused():
        for index, stream in enumerate(layers):
            if index_of is None:
                stream.seek(0)
                table = HeaderIndex.of(stream, f"{what} {index}")
            else:
                table = index_of(index, stream)
            tree.add_layer(index, table)
    return tree
