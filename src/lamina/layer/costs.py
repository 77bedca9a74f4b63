"""What each layer of a stack costs and what of it the layers above throw away, counted
from tar headers while a `tree.Tree` applies the stack (a `tree.Watcher`).

    costs = Costs(len(layers)); t = Tree(watcher=costs)
    costs.nodes = t.nodes
    for i, table in enumerate(header_indexes): t.add_layer(i, table)
    costs.end_layer(i)  # after each layer

Sizes are **file bytes**: the sizes of regular files (tar header sizes; directories,
symlinks, hardlinks and devices count 0, so a hardlinked file counts once). That is what
`docker history` shows for a layer (checked with Docker 20.10 on vfs; a driver that
sizes its diff directory may add symlink lengths) and what dive counts. Per layer:
- `added` / `modified`: entries other than directories at a path the filesystem below
  did not / did have (a whiteout plus a same-named entry in one layer is a change);
- `removed`: files (not directories) its whiteouts and opaque markers hide, with bytes;
- `wasted`: bytes of its content that are not in the final filesystem: overwritten,
  deleted or hidden by an opaque directory above, or by its own later entries. Content
  lives as long as one of its hardlinked names does. `dead[i][j]`: of layer i, by j.
  `losses` says where: the path a layer deleted, replaced or hid (a whole directory,
  or everything an opaque directory hides, is one loss), with the bytes that died
  there (a file replaced by a directory made for an entry below it is booked under
  that entry's directory).

dive's efficiency (wagoodman/dive, filetree/efficiency.go) is kept beside it, with dive's
rules: every path a layer's own tree has as a leaf is one sighting at its size; a
whiteout is a sighting of the path it names, at 0 for a file and at the sum of the
sizes under it in the filesystem below for a directory that a directory entry made (0
for one only implied by entries below it, as in dive);
opaque markers add nothing but make their directory a (size 0) leaf of that layer.
Score = sum over paths of the smallest sighting / sum of all sightings (1.0 if 0).
(Where a lower opaque directory hid files, dive's own stacking still counts them under
a later whiteout; lamina counts what the whiteout really hides.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lamina.layer import tarformat as tf
from lamina.layer.noderows import NO_ROW, NodeRows
from lamina.layer.tree import DIR, GONE, LEAF, Inode


@dataclass
class LayerCount:
    entries: int = 0  # tar entries, whiteouts included (set by the reader)
    size: int = 0  # file bytes
    added: int = 0
    added_bytes: int = 0
    modified: int = 0
    modified_bytes: int = 0
    removed: int = 0
    removed_bytes: int = 0
    wasted: int = 0


@dataclass(frozen=True)
class Change:
    """One change a layer makes, for the per-file view: A (added), M (modified) or
    D (removed: `size` is what the deletion hides, `files` how many files)."""

    kind: str
    path: str
    size: int
    type: str  # tar type flag ("0" file, "5" directory, "2" symlink, ...), "" for D
    files: int = 1


@dataclass(slots=True)
class Sighting:
    """dive's record of a path: smallest size seen, sum of sizes seen, times seen."""

    least: int
    total: int
    count: int


@dataclass
class Loss:
    """Bytes thrown away at one path by one layer (`by`): `files` files whose content
    the layers in `made` had stored."""

    path: str
    by: int
    size: int = 0
    files: int = 0
    made: set[int] = field(default_factory=set)


@dataclass
class _Hidden:
    files: int = 0
    size: int = 0


@dataclass
class Costs:
    """A `tree.Watcher` counting per-layer costs, waste and dive's sightings."""

    layer_count: int
    focus: int | None = None  # the layer whose changes are listed one by one
    nodes: NodeRows = field(default_factory=lambda: NodeRows({}))  # the tree's (Tree.nodes)
    layers: list[LayerCount] = field(init=False)
    dead: list[list[int]] = field(init=False)
    # a path seen once is just its size (most are): a Sighting from the second time on
    sightings: dict[str, int | Sighting] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    losses: dict[tuple[str, int], Loss] = field(default_factory=dict)
    _links: dict[Inode, int] = field(default_factory=dict)  # inodes with several names
    _dirs: list[str] = field(default_factory=list)  # this layer's directory sightings
    _parents: set[str] = field(default_factory=set)  # paths with entries below them

    def __post_init__(self) -> None:
        self.layers = [LayerCount() for _ in range(self.layer_count)]
        self.dead = [[0] * self.layer_count for _ in range(self.layer_count)]

    # -- the watcher ---------------------------------------------------------------------
    def opaque(self, index: int, dir_parts: list[str], directory: int) -> None:
        path = "/".join(dir_parts)
        if path:
            self._dirs.append(path)
        for name, child in self.nodes.named_children(directory):
            child_path = f"{path}/{name}" if path else name
            # one loss for the directory; one change per child it hides
            self._removed(index, child_path, self._gone(index, child, path))

    def whiteout(self, index: int, dir_parts: list[str], target: str, old: int | None) -> None:
        directory = "/".join(dir_parts)
        path = f"{directory}/{target}" if directory else target
        self._mark_parents(path)
        nodes = self.nodes
        if old is None or nodes.kind(old) == GONE or nodes.is_holder(old):
            return  # hides nothing (dive cannot place it either)
        hidden = self._gone(index, old, path)
        # dive sizes a directory only if an entry made it one (its implicit ones are not)
        made_dir = nodes.kind(old) == DIR and nodes.entry[old] >= 0
        self._sight(path, hidden.size if made_dir else 0)
        self._removed(index, path, hidden)

    def replaced(self, index: int, old: int, parts: list[str]) -> None:
        self._gone(index, old, "/".join(parts[:-1]))

    def added(
        self, index: int, kind: str, size: int, parts: list[str], old: int | None, new: int
    ) -> None:
        # the hot path of an analysis: one call per tar entry
        count = self.layers[index]
        count.size += size
        path = "/".join(parts)
        parent = path.rpartition("/")[0]
        if parent and parent not in self._parents:
            self._mark_parents(path)
        if kind == tf.DIRECTORY:
            self._dirs.append(path)
        else:
            self._sight(path, size)
            existed = old is not None and self._existed(index, old)
            if existed:
                count.modified += 1
                count.modified_bytes += size
            else:
                count.added += 1
                count.added_bytes += size
            if self.focus == index:
                self.changes.append(Change("M" if existed else "A", path, size, kind))
        inodes = self.nodes.inodes
        inode = inodes.get(new)  # (None unless a hardlink shares it: tree.inode_of)
        if old is not None and inode is not None and inodes.get(old) is inode:
            return  # a name linked again to the file it already holds: nothing changes
        if kind == tf.HARDLINK and inode is not None and inode.layer >= 0:
            # counted first: the link may replace a directory holding its own target
            self._links[inode] = self._links.get(inode, 1) + 1
        if old is not None and old != new:
            self._gone(index, old, path)

    def _existed(self, index: int, old: int) -> bool:
        """Whether the path of `old` existed before layer `index` changed it."""
        kind = self.nodes.kind(old)
        if kind == GONE:
            return self.nodes.layer[old] == index  # a whiteout and a new entry
        return not self.nodes.is_holder(old)

    def end_layer(self, index: int) -> None:
        """Call after each layer: its directories that are leaves of its own tree count."""
        for path in self._dirs:
            if path not in self._parents:
                self._sight(path, 0)
        self._dirs.clear()
        self._parents.clear()

    # -- results -------------------------------------------------------------------------
    def efficiency(self) -> float:
        least = total = 0
        for s in self.sightings.values():
            if isinstance(s, int):
                least, total = least + s, total + s
            else:
                least, total = least + s.least, total + s.total
        return 1.0 if total == 0 else least / total

    def repeated(self) -> list[tuple[str, Sighting]]:
        """The paths seen more than once."""
        return [(p, s) for p, s in self.sightings.items() if not isinstance(s, int)]

    # -- helpers -------------------------------------------------------------------------
    def _sight(self, path: str, size: int) -> None:
        seen = self.sightings.get(path)
        if seen is None:
            self.sightings[path] = size
        elif isinstance(seen, int):
            self.sightings[path] = Sighting(min(seen, size), seen + size, 2)
        else:
            seen.least = min(seen.least, size)
            seen.total += size
            seen.count += 1

    def _mark_parents(self, path: str) -> None:
        parent = path.rpartition("/")[0]
        while parent and parent not in self._parents:
            self._parents.add(parent)
            parent = parent.rpartition("/")[0]

    def _removed(self, index: int, path: str, hidden: _Hidden) -> None:
        count = self.layers[index]
        count.removed += hidden.files
        count.removed_bytes += hidden.size
        if self.focus == index and hidden.files:
            self.changes.append(Change("D", path, hidden.size, "", hidden.files))

    def _gone(self, index: int, node: int, path: str) -> _Hidden:
        """`node` (at `path`) and its subtree leave the filesystem at layer `index`."""
        hidden = _Hidden()
        nodes, tables = self.nodes, self.nodes.tables
        stack = [node]
        while stack:
            n = stack.pop()
            kind = nodes.kind(n)
            if kind == DIR:
                stack.extend(nodes.children(n))
            elif kind == LEAF:
                hidden.files += 1
                hidden.size += tables[nodes.layer[n]].data_size(nodes.entry[n])
                self._unlink(index, n, path)
        return hidden

    def _unlink(self, index: int, leaf: int, path: str) -> None:
        inode = self.nodes.inodes.get(leaf)
        if inode is None:
            layer, row = self.nodes.layer[leaf], self.nodes.entry[leaf]
        else:
            layer, row = inode.layer, (NO_ROW if inode.entry is None else inode.entry)
        if layer < 0 or row < 0:
            return  # no content in the stack: a dangling hardlink
        names = self._links.get(inode) if inode is not None else None
        if inode is not None and names is not None:
            if names > 1:
                self._links[inode] = names - 1
                return
            del self._links[inode]
        size = self.nodes.tables[layer].data_size(row)
        self.layers[layer].wasted += size
        self.dead[layer][index] += size
        if size:
            loss = self.losses.get((path, index))
            if loss is None:
                loss = self.losses[(path, index)] = Loss(path, index)
            loss.size += size
            loss.files += 1
            loss.made.add(layer)
