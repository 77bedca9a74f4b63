"""The nodes of a `tree.Tree` as rows of arrays, and the hash index that finds a
directory's child by name (docs/design.md §11).

A node is a row number (an int, no object). Its columns, 25 bytes a row (six
`array("i")`s and a byte), plus about 8 bytes of the index below:
- `parent`: the row of its directory (NO_ROW for a root);
- `entry`, `layer`: the entry that made it, as (layer index, row of that layer's
  `HeaderIndex`); entry NO_ROW for a node no entry made (an implicit directory, a
  whiteout, a holder of whiteouts: `is_holder`), whose layer is the layer that made it
  (-1 for a holder no layer has made exist);
- `flags`: its kind (DIR, LEAF, GONE), what a directory hides below (KEEP, OPAQUE,
  RECREATED: nodes.py) and DEAD once another row replaced it at its path;
- `name_hash`: 31 bits of `hash(name)`;
- `first`, `next`: a directory's children as a list (newest first) that includes the
  replaced (DEAD) rows, which `children` skips.

Names are not stored. A node an entry made is named by the last part of that entry's
normalised name, read back from the layer's names buffer when it must be compared or
listed; a later entry at the same node (a directory's new metadata) names the same path,
so the same last part. The few nodes no entry made keep their name in `side`. Hardlinks
and their targets have an `Inode` in `inodes` (keyed by row); other leaves none.

The child index is one open-addressed hash table (an `array` of rows, linear probing,
at most half full) keyed by (parent row, name): a slot holds the row now at that key. A
probe compares parent and name hash first and the name only when both match, so a name
is read back about once per successful lookup. Replacing a node puts the new row in the
old one's slot and marks the old DEAD; what the old row held stays in the table, keyed by
a row nothing reaches any more (so a directory is emptied in O(1) by giving it a fresh
row: `emptied`). Nothing is ever removed: rows and slots grow by one per entry applied, plus
the implicit nodes, whatever the layers delete.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping

from lamina.layer import paths
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.nodes import DIR, KEEP, Inode

NO_ROW = -1
KIND = 3  # flags & KIND: the kind
HIDE_SHIFT = 2  # (flags >> HIDE_SHIFT) & 3: what a directory hides
DEAD = 16  # replaced at its path by another row
_HASH = 0x7FFFFFFF
_MIX = 0x9E3779B1  # spreads the children of consecutive parent rows over the table
_MIN_SLOTS = 1024
_SLASH = ord("/")


def _empty(n: int) -> array[int]:
    return array("i", [NO_ROW]) * n


class NodeRows:
    """The nodes of one tree (see module doc); `tables` is the tree's, by layer index."""

    def __init__(self, tables: Mapping[int, HeaderIndex]) -> None:
        self.tables = tables
        self.parent, self.entry, self.layer = array("i"), array("i"), array("i")
        self.name_hash, self.first, self.next = array("i"), array("i"), array("i")
        self.flags = bytearray()
        self.side: dict[int, str] = {}  # names of the rows no entry made
        self.inodes: dict[int, Inode] = {}  # leaves a hardlink shares
        self.slots = _empty(_MIN_SLOTS)  # the index (NO_ROW: empty); `probe` finds in it
        self._mask = _MIN_SLOTS - 1
        self._used = 0  # slots in use
        self._count = 0  # rows in use; the columns may hold room for more (`reserve`)

    def __len__(self) -> int:
        return self._count

    # -- columns -------------------------------------------------------------------------
    def kind(self, row: int) -> int:
        return self.flags[row] & KIND

    def hide(self, row: int) -> int:
        return (self.flags[row] >> HIDE_SHIFT) & 3

    def set_hide(self, row: int, hide: int) -> None:
        self.flags[row] = (self.flags[row] & ~(3 << HIDE_SHIFT)) | hide << HIDE_SHIFT

    def made(self, row: int) -> int | None:
        """The entry row that made `row` (in its layer's table), None if none did."""
        entry = self.entry[row]
        return None if entry < 0 else entry

    def is_holder(self, row: int) -> bool:
        """A directory no entry made and no layer made exist: it only holds whiteouts for
        a lower directory."""
        return self.flags[row] & KIND == DIR and self.entry[row] < 0 and self.layer[row] < 0

    def name(self, row: int) -> str:
        """The last part of the node's path ("" for a root): only the bytes after the
        last slash of its entry's name are decoded."""
        entry = self.entry[row]
        if entry < 0:
            return self.side[row]
        table = self.tables[self.layer[row]]
        names, ends = table.names, table.name_end
        start, end = ends[entry - 1] if entry else 0, ends[entry]
        while end > start and names[end - 1] == _SLASH:
            end -= 1
        part = names[names.rfind(b"/", start, end) + 1 or start : end]
        if part and part != b"." and part != b"..":
            return part.decode("utf-8", "surrogateescape")
        clean = paths.split(table.name(entry))  # a name that normalises to another part
        return clean[-1] if clean else ""

    def children(self, row: int) -> list[int]:
        """The rows now in directory `row` (any order)."""
        after, flags = self.next, self.flags
        found = []
        child = self.first[row]
        while child >= 0:
            if not flags[child] & DEAD:
                found.append(child)
            child = after[child]
        return found

    def named_children(self, row: int) -> list[tuple[str, int]]:
        """(name, row) of the rows now in directory `row` (any order). The writer's hot
        path: `name` inlined for a plain entry name (no trailing slash, no dots)."""
        found: list[tuple[str, int]] = []
        after, flags, entries, layers = self.next, self.flags, self.entry, self.layer
        names, ends, now = bytearray(), self.entry, NO_ROW  # the buffers of layer `now`
        child = self.first[row]
        while child >= 0:
            if not flags[child] & DEAD:
                entry, layer = entries[child], layers[child]
                if entry >= 0 and layer != now:
                    table = self.tables[layer]
                    names, ends, now = table.names, table.name_end, layer
                end = ends[entry] if entry >= 0 else 0
                if end and names[end - 1] != _SLASH:
                    start = ends[entry - 1] if entry else 0
                    part = names[names.rfind(b"/", start, end) + 1 or start : end]
                    if part != b"." and part != b"..":
                        found.append((part.decode("utf-8", "surrogateescape"), child))
                        child = after[child]
                        continue
                found.append((self.name(child), child))
            child = after[child]
        return found

    # -- making --------------------------------------------------------------------------
    def root(self) -> int:
        """A new directory row with no parent and no entry yet (a tree's "")."""
        row = self._next_row()
        self.flags[row] = DIR
        self.side[row] = ""
        return row

    def _next_row(self) -> int:
        """A row of NO_ROWs (flags 0) in use from now on."""
        row = self._count
        if row == len(self.flags):
            self._room(max(_MIN_SLOTS, row // 8))
        self._count = row + 1
        return row

    def _room(self, more: int) -> None:
        """`more` rows more in the columns (not yet in use)."""
        filler = _empty(more)
        for column in (self.parent, self.entry, self.layer, self.first, self.next, self.name_hash):
            column.extend(filler)
        self.flags.extend(bytes(more))

    def trim(self) -> None:
        """Give back the room `reserve` made that no row used."""
        n = self._count
        for column in (self.parent, self.entry, self.layer, self.first, self.next, self.name_hash):
            del column[n:]
        del self.flags[n:]

    def add(
        self, slot: int, parent: int, name: str, kind: int, entry: int, layer: int, hide: int = KEEP
    ) -> int:
        """A new row at (`parent`, `name`), whose slot `probe` found: the row there
        before, if any, is DEAD from now on."""
        flags, first, slots = self.flags, self.first, self.slots
        row = self._count
        if row == len(flags):
            row = self._next_row()
        else:
            self._count = row + 1
        flags[row] = kind | hide << HIDE_SHIFT
        self.parent[row] = parent
        self.entry[row] = entry
        self.layer[row] = layer
        self.name_hash[row] = hash(name) & _HASH
        self.next[row] = first[parent]
        first[parent] = row
        if entry < 0:
            self.side[row] = name
        old = slots[slot]
        slots[slot] = row
        if old >= 0:
            flags[old] |= DEAD
        else:
            self._used += 1
            if 2 * self._used > self._mask:
                self._fit(self._used)
        return row

    def put(
        self, parent: int, name: str, kind: int, entry: int, layer: int, hide: int = KEEP
    ) -> int:
        """`add`, probing for the slot."""
        return self.add(self.probe(parent, name), parent, name, kind, entry, layer, hide)

    def emptied(self, directory: int, hide: int) -> int:
        """A fresh row for `directory` at its path (a root: none), with its entry and
        layer and hiding at least `hide` below: the directory emptied in O(1), its old
        row (DEAD) keeping the children nothing reaches any more."""
        parent, entry, layer = self.parent[directory], self.entry[directory], self.layer[directory]
        hide = max(self.hide(directory), hide)
        if parent != NO_ROW:
            return self.put(parent, self.name(directory), DIR, entry, layer, hide)
        row = self.root()
        self.entry[row], self.layer[row] = entry, layer
        self.set_hide(row, hide)
        return row

    def reserve(self, more: int) -> None:
        """Make room for `more` rows at once (and a few implicit ones), in the columns
        and the index (one resize, not several); `trim` gives back what was not used."""
        self._room(max(0, self._count + more + _MIN_SLOTS - len(self.flags)))
        self._fit(self._used + more)

    # -- the index -----------------------------------------------------------------------
    def probe(self, parent: int, name: str) -> int:
        """The slot of (`parent`, `name`): where its row is, or the empty slot where it
        would go. Valid until the next `add`."""
        h = hash(name) & _HASH
        slots, mask = self.slots, self._mask
        i = (h ^ parent * _MIX) & mask
        row = slots[i]
        while row >= 0:
            if self.parent[row] == parent and self.name_hash[row] == h and self.name(row) == name:
                return i
            i = (i + 1) & mask
            row = slots[i]
        return i

    def child(self, parent: int, name: str) -> int:
        """The row now at `name` in directory `parent`, NO_ROW if none."""
        return self.slots[self.probe(parent, name)]

    def _fit(self, used: int) -> None:
        size = len(self.slots)
        if 2 * used <= size:
            return
        while 2 * used > size:
            size *= 2
        old, slots, mask = self.slots, _empty(size), size - 1
        parents, hashes = self.parent, self.name_hash
        for row in old:
            if row >= 0:
                i = (hashes[row] ^ parents[row] * _MIX) & mask
                while slots[i] >= 0:
                    i = (i + 1) & mask
                slots[i] = row
        self.slots, self._mask = slots, mask
