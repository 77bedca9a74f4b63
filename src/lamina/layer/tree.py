"""The filesystem a run of layers describes, built from tar headers alone.

A `Tree` applies layers bottom-up to a table of nodes (layer/noderows.py: a node is a
row of arrays), recording for every path which entry (layer, row) put it there. Nothing
is read but headers; nothing is ever scanned: a whiteout or an opaque marker detaches a
subtree in O(1), a lookup costs one hash probe per path part (entries in tar order
mostly share their parent's, found once). Bottom-up (docs/design.md §7): a hardlink is
resolved against the filesystem as it was when its layer was applied, by one lookup.

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
object per entry); a node is a row of `NodeRows` (about 30 bytes with its index slot,
its name read back from its entry); a leaf gets an `Inode` only once a hardlink shares
it (`inode_of`); until then its own entry is its content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from lamina.layer import paths
from lamina.layer import tarformat as tf
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.noderows import NO_ROW as NO_ROW
from lamina.layer.noderows import NodeRows as NodeRows
from lamina.layer.nodes import BELOW as BELOW
from lamina.layer.nodes import DANGLING as DANGLING
from lamina.layer.nodes import DIR as DIR
from lamina.layer.nodes import GONE as GONE
from lamina.layer.nodes import KEEP as KEEP
from lamina.layer.nodes import LEAF as LEAF
from lamina.layer.nodes import OPAQUE as OPAQUE
from lamina.layer.nodes import RECREATED as RECREATED
from lamina.layer.nodes import Inode as Inode
from lamina.layer.nodes import Watcher as Watcher
from lamina.layer.nodes import gc_paused as gc_paused
from lamina.layer.tarstream import Member
from lamina.layer.whiteout import Kind


class Tree:
    """Layers applied bottom-up; `root` is the row of the directory "" (never deleted;
    an opaque marker at the top gives it a new row)."""

    def __init__(
        self, below_identity: Callable[[str], object] = str, watcher: Watcher | None = None
    ) -> None:
        """`below_identity(path)` names the inode a lower path holds, so that hardlinks
        to two names of one lower file share one BELOW inode (default: the path)."""
        self.tables: dict[int, HeaderIndex] = {}  # layer index -> its entries
        self.nodes = NodeRows(self.tables)
        self.root = self.nodes.root()
        self._below_identity = below_identity
        self._below_inodes: dict[object, Inode] = {}
        self._watcher = watcher
        # the directories of the last entry's path, from the root down
        self._names: list[str] = []
        self._rows: list[int] = []

    # -- building ------------------------------------------------------------------------
    def add_layer(self, index: int, table: HeaderIndex) -> None:
        """Apply one layer's entries (`index` is recorded in every node it makes): its
        whiteouts and opaque markers first, then its other entries in tar order;
        whiteout-format bookkeeping is dropped (layer/whiteout.py)."""
        self.tables[index] = table
        self.nodes.reserve(len(table))
        deletions, skip = table.deletions()
        for kind, dir_parts, target in deletions:
            self._delete(kind, dir_parts, target, index)
        self._forget_chain()
        name, types = table.name, table.types
        for row in range(len(table)):
            if row not in skip:
                self._add(row, chr(types[row]), paths.split(name(row)), index, table)
        self.nodes.trim()

    def _delete(self, kind: Kind, dir_parts: list[str], target: str, index: int) -> None:
        directory = self._existing_dir(dir_parts)
        if directory == NO_ROW:
            return  # below a non-directory: nothing there to hide
        nodes = self.nodes
        if kind is Kind.OPAQUE:
            if self._watcher is not None:
                self._watcher.opaque(index, dir_parts, directory)
            fresh = nodes.emptied(directory, OPAQUE)
            self.root = fresh if directory == self.root else self.root
        else:
            slot = nodes.probe(directory, target)
            if self._watcher is not None:
                old = nodes.slots[slot]
                self._watcher.whiteout(index, dir_parts, target, None if old < 0 else old)
            nodes.add(slot, directory, target, GONE, NO_ROW, index)

    def _existing_dir(self, parts: list[str]) -> int:
        """The directory at `parts`, made implicit where the tree knows nothing yet;
        NO_ROW if a non-directory is on the way."""
        nodes, node = self.nodes, self.root
        for name in parts:
            slot = nodes.probe(node, name)
            child = nodes.slots[slot]
            if child < 0:
                child = nodes.add(slot, node, name, DIR, NO_ROW, -1)
            elif nodes.kind(child) != DIR:
                return NO_ROW
            node = child
        return node

    def _forget_chain(self) -> None:
        self._names.clear()
        self._rows.clear()

    def _parent_for_entry(self, parts: list[str], index: int) -> int:
        """The parent directory of an entry, made (implicitly, by layer `index`) if
        needed. Starts from the deepest directory it shares with the last entry's: the
        chain of its directories' `_names` and `_rows`."""
        names, rows = self._names, self._rows
        depth = len(parts) - 1
        if parts[:depth] == names:
            return rows[-1] if rows else self.root  # the last entry's directory
        nodes, shared = self.nodes, 0
        limit = min(len(names), depth)
        while shared < limit and names[shared] == parts[shared]:
            shared += 1
        node = rows[shared - 1] if shared else self.root
        del names[shared:], rows[shared:]
        for name in parts[shared:depth]:
            slot = nodes.probe(node, name)
            child = nodes.slots[slot]
            if child < 0 or nodes.kind(child) != DIR:
                if child >= 0 and self._watcher is not None:
                    self._watcher.replaced(index, child, parts)
                hide = KEEP if child < 0 else RECREATED
                child = nodes.add(slot, node, name, DIR, NO_ROW, index, hide)
            elif nodes.entry[child] < 0 and nodes.layer[child] < 0:
                nodes.layer[child] = index  # was only a holder for whiteouts; now it exists
            names.append(name)
            rows.append(child)
            node = child
        return node

    def _add(self, row: int, kind: str, parts: list[str], index: int, table: HeaderIndex) -> None:
        nodes = self.nodes
        if not parts:
            if kind == tf.DIRECTORY:
                nodes.entry[self.root], nodes.layer[self.root] = row, index
            return  # a root that is not a directory is meaningless: ignored
        parent = self._parent_for_entry(parts, index)
        name = parts[-1]
        inode = self._resolve(table.linkname(row)) if kind == tf.HARDLINK else None
        slot = nodes.probe(parent, name)
        existing = nodes.slots[slot]
        if kind == tf.DIRECTORY and existing >= 0 and nodes.kind(existing) == DIR:
            nodes.entry[existing], nodes.layer[existing] = row, index
            new = existing
        elif kind == tf.DIRECTORY:
            hide = KEEP if existing < 0 else RECREATED
            new = nodes.add(slot, parent, name, DIR, row, index, hide)
        else:
            new = nodes.add(slot, parent, name, LEAF, row, index)
            if inode is not None:
                nodes.inodes[new] = inode
        if existing >= 0 and existing != new and nodes.kind(existing) == DIR:
            self._forget_chain()  # it may hold a directory of the chain
        if self._watcher is not None:
            old = None if existing < 0 else existing
            self._watcher.added(index, kind, table.data_size(row), parts, old, new)

    def _resolve(self, linkname: str) -> Inode:
        """The inode a hardlink to `linkname` gets now."""
        path = paths.normalise(linkname, "hardlink target")
        node, hidden = self.find(path)
        if node is None and not hidden:
            return self._below(path)
        if node is not None and self.nodes.kind(node) == LEAF:
            return self.inode_of(node, path)
        return Inode(DANGLING, None, path)

    def _below(self, path: str) -> Inode:
        key = self._below_identity(path)
        inode = self._below_inodes.get(key)
        if inode is None:
            inode = self._below_inodes[key] = Inode(BELOW, None, path)
        return inode

    def inode_of(self, leaf: int, path: str | None = None) -> Inode:
        """The inode of `leaf` (found at `path`), made now if nothing shared it yet."""
        inode = self.nodes.inodes.get(leaf)
        if inode is None:
            table, entry = self.tables[self.nodes.layer[leaf]], self.nodes.entry[leaf]
            home = path if path is not None else paths.normalise(table.name(entry))
            inode = self.nodes.inodes[leaf] = Inode(self.nodes.layer[leaf], entry, home)
        return inode

    def leaves(self) -> Iterator[tuple[str, int]]:
        """Every leaf with its path (any order)."""
        nodes = self.nodes
        stack: list[tuple[str, int]] = [(paths.ROOT, self.root)]
        while stack:
            path, node = stack.pop()
            for name, child in nodes.named_children(node):
                if nodes.kind(child) == LEAF:
                    yield paths.join(path, name), child
                elif nodes.kind(child) == DIR:
                    stack.append((paths.join(path, name), child))

    def clear_marks(self) -> None:
        """Forget what a writer noted on the inodes, so the tree can be written again."""
        for inode in (*self.nodes.inodes.values(), *self._below_inodes.values()):
            inode.emitted = inode.deferred = None

    # -- queries -------------------------------------------------------------------------
    def member(self, node: int) -> Member:
        """The full entry that made `node` (which must have one)."""
        entry = self.nodes.entry[node]
        assert entry >= 0
        return self.tables[self.nodes.layer[node]].member(entry)

    def content(self, leaf: int) -> tuple[int, int | None]:
        """(layer, row) of the entry holding the content of `leaf` (row None, layer
        BELOW or DANGLING: not in these layers)."""
        inode = self.nodes.inodes.get(leaf)
        if inode is None:
            return self.nodes.layer[leaf], self.nodes.entry[leaf]
        return inode.layer, inode.entry

    def find(self, path: str) -> tuple[int | None, bool]:
        """(node at `path`, or None when the layers did not make that path; whether the
        path as the filesystem below has it is hidden at the top)."""
        nodes, node = self.nodes, self.root
        hidden = False
        for name in path.split("/") if path else ():
            if nodes.kind(node) != DIR:
                return None, True
            hidden = hidden or nodes.hide(node) != KEEP
            child = nodes.child(node, name)
            if child < 0:
                return None, hidden
            node = child
        if node != self.root and nodes.is_holder(node):
            return None, hidden
        return node, hidden or nodes.kind(node) != DIR or nodes.hide(node) == RECREATED

    def hides_lower(self, path: str) -> bool:
        """Whether a directory above `path` hides the lower filesystem's `path` at the
        top: one replaced, re-created or made opaque in the layers."""
        nodes, node = self.nodes, self.root
        for name in path.split("/")[:-1] if path else ():
            if nodes.kind(node) != DIR or nodes.hide(node) != KEEP:
                return True
            child = nodes.child(node, name)
            if child < 0:
                return False
            node = child
        return nodes.kind(node) != DIR or nodes.hide(node) != KEEP


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
