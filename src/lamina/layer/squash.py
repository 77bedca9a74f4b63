"""Squash a contiguous run of layers into one: the filesystem at the top of the run, as
a diff against the filesystem at its bottom (docs/design.md §7).

    diff_id, size = squash_layers([l3, l4, l5], out, below=Below.layers([l0, l1, l2]))

`layers` are seekable, uncompressed tar files, bottom first; `out` receives the new
layer. Pass 1 reads headers only and builds a `tree.Tree` (survivors decided in node rows).
Pass 2 walks that tree in a fixed order and copies each survivor's raw header+data
bytes from its layer file, hashing as it writes. Entries are re-encoded only when they
must change: a hardlink whose target was replaced later becomes the file (its content
copied from the old target's bytes); whiteouts and opaque markers, which now stand for
several layers, are written canonically (empty regular files, mode 0, mtime 0); a
directory the run made only implicitly (an entry below it, none for it) and emptied
again is written as a plain directory (0755) so that it still exists.

What survives of the run's deletions depends on what lies below it, `below`:
- `Below.nothing()`: the run starts at layer 0; no whiteout survives.
- `Below.layers(streams)`: the layers under the run (headers read once); whiteouts are
  kept exactly when they hide something there, and a hardlink to a lower file that the
  run replaces can still get that file's content.
- `Below.unknown()`: keep every whiteout that could matter (a whiteout of a path that
  does not exist is harmless). Fails on the lower-hardlink case above, which needs data,
  and cannot tell an implicit directory emptied in the run from a lower one (rare:
  container tools write an entry for every directory).

Output order: a directory, then its opaque marker, then its whiteouts, then its children
by name (so parents come before children and deletions before re-creations). A hardlink
comes after the entry holding its content. Same input bytes, same output bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import BinaryIO

from lamina.errors import InvalidInputError
from lamina.layer import paths, tree, whiteout
from lamina.layer import tarformat as tf
from lamina.layer.below import Below as Below
from lamina.layer.indexfile import Building
from lamina.layer.noderows import KIND, NodeRows
from lamina.layer.sizing import CountingSink, Unread
from lamina.layer.tarstream import Member, TarReader
from lamina.layer.tarwriter import TarSink
from lamina.layer.tree import DIR, GONE, KEEP, LEAF, RECREATED, Inode, Tree


def squash_layers(
    layers: Sequence[BinaryIO],
    out: BinaryIO,
    *,
    below: Below | None = None,
    index_of: tree.IndexOf | None = None,
    index: Building | None = None,
) -> tuple[str, int]:
    """Write the squash of `layers` (bottom first) to `out`; returns (diff_id, size).
    `index_of` may give their header indexes (else their headers are read). An empty
    `index` given is filled with the output's header index as it is written (equal to
    `HeaderIndex.of` the output, with no second read)."""
    below = below or Below.nothing()
    with tree.gc_paused():
        merged = tree.build(layers, below_identity=below.identity, index_of=index_of)
        sink = TarSink(out)
        _Writer(merged, layers, below, sink, index).write_all()
        diff_id, size = sink.finish()
    if index is not None:
        index.tar_size = size
    return diff_id, size


def squashed_size(merged: Tree, below: Below) -> int:
    """The exact size of the layer `squash_layers` writes for the layers `merged` was
    built from (with `below_identity=below.identity`), found by the same pass 2 with a
    sink that only counts: no layer byte is read. The tree can be sized again after
    more layers are applied to it."""
    merged.clear_marks()
    sink = CountingSink()
    _Writer(merged, Unread(), below, sink).write_all()
    sink.finish()
    return sink.size


class _Writer:
    """Pass 2: walk the tree in output order and write the survivors."""

    def __init__(
        self,
        merged: Tree,
        layers: Sequence[BinaryIO],
        below: Below,
        sink: TarSink,
        index: Building | None = None,
    ):
        self.tree = merged
        self.nodes = merged.nodes
        self.inodes = merged.nodes.inodes
        self.layers = layers
        self.below = below
        self.sink = sink
        self.index = index  # the output's entries, when asked for

    def write_all(self) -> None:
        # (directory node, its path, whether the lower filesystem is hidden above it)
        stack: list[tuple[int, str, bool]] = [(self.tree.root, paths.ROOT, False)]
        flags = self.nodes.flags
        while stack:
            node, path, hidden = stack.pop()
            if flags[node] & KIND != DIR:
                self._leaf(node, path)
                continue
            stack.extend(reversed(self._directory(node, path, hidden)))

    def _directory(self, node: int, path: str, hidden: bool) -> list[tuple[int, str, bool]]:
        """Write a directory's entry, marker and whiteouts; return its children to visit
        (by name: the one sort of a directory's children)."""
        nodes = self.nodes
        made, hide = nodes.entry[node] >= 0, nodes.hide(node)
        if made:
            self._raw(node)
        elif self._needs_dir_entry(node, path, hidden):
            self._header(tf.Header(name=path + "/", type=tf.DIRECTORY, mode=0o755))
        marks = made or hide != RECREATED  # else the parent's `.wh.`
        if hide != KEEP and marks and not hidden and self.below.has_children(path):
            self._synthetic(whiteout.opaque_name(path))
        inner_hidden = hidden or hide != KEEP
        later: list[tuple[int, str, bool]] = []
        flags = nodes.flags
        for name, child in sorted(nodes.named_children(node)):
            child_path = paths.join(path, name)
            kind = flags[child] & KIND
            deletes = kind != LEAF and not inner_hidden and _hides_lower_path(nodes, child)
            if deletes and self.below.exists(child_path):
                self._synthetic(whiteout.whiteout_name(child_path))
            if kind != GONE:
                later.append((child, child_path, inner_hidden))
        return later

    def _needs_dir_entry(self, node: int, path: str, hidden: bool) -> bool:
        """An implicit directory made in the range exists at its top; if nothing below it
        is written and the lower filesystem has no directory there, write one."""
        nodes = self.nodes
        if nodes.layer[node] < 0 or not path:
            return False
        if not hidden and nodes.hide(node) != RECREATED and self.below.is_dir(path):
            return False
        # any written child makes the directory implicitly (and such a child dir also
        # needs to exist, so it writes something itself)
        return not any(
            nodes.kind(child) == LEAF or (nodes.kind(child) == DIR and nodes.layer[child] >= 0)
            for child in nodes.children(node)
        )

    # -- leaves --------------------------------------------------------------------------
    def _leaf(self, node: int, path: str) -> None:
        inode = self.inodes.get(node)
        if inode is None:
            self._raw(node)  # nothing links to it: its own entry, as it was
            return
        if inode.emitted == path:
            return  # a lower file relinked to its own name: nothing changed
        if inode.emitted is not None:
            self._link(node, path, inode.emitted)
        elif inode.layer == tree.DANGLING:
            self._raw(node)  # a broken hardlink stays as it was
        elif inode.layer == tree.BELOW:
            self._below_leaf(node, path, inode)
        elif _is_home(self.nodes, node, inode):
            self._raw(node)
            self._emitted(inode, path)
        elif self._home_survives(inode):
            inode.deferred = (inode.deferred or []) + [(node, path)]
        else:
            assert inode.entry is not None
            member = self.tree.tables[inode.layer].member(inode.entry)
            self._content(member, self.layers[inode.layer], path)
            self._emitted(inode, path)

    def _emitted(self, inode: Inode, path: str) -> None:
        inode.emitted = path
        for node, link_path in inode.deferred or ():
            self._link(node, link_path, path)
        inode.deferred = None

    def _home_survives(self, inode: Inode) -> bool:
        """Does the path that created `inode` still hold it at the top of the run?"""
        node, _ = self.tree.find(inode.path)
        return node is not None and _is_home(self.nodes, node, inode)

    def _below_leaf(self, node: int, path: str, inode: Inode) -> None:
        """A hardlink to a file under the run."""
        for name in self.below.names(inode.path):
            found, hidden = self.tree.find(name)
            kept = (
                found is not None
                and self.nodes.inodes.get(found) is inode
                and not self.tree.hides_lower(name)
            )
            if (found is None and not hidden) or kept:
                # that name of the lower file is still there at the top (and not under a
                # directory the output whites out or makes opaque: then it is written anew)
                if path != name:
                    self._link(node, path, name)
                inode.emitted = name
                return
        source = self.below.content(inode.path)
        if source is None:
            if not self.below.known:
                raise InvalidInputError(
                    f"cannot squash: hardlink {path!r} keeps the content of "
                    f"{inode.path!r} from below the range, which the range replaces",
                    "squash with the lower layers given (Below.layers)",
                )
            self._raw(node)  # its target never existed: dangling
            return
        self._content(source[1], source[0], path)
        inode.emitted = path

    # -- writing -------------------------------------------------------------------------
    def _raw(self, node: int) -> None:
        """The entry that made `node`, copied byte for byte."""
        row, layer = self.nodes.entry[node], self.nodes.layer[node]
        assert row >= 0
        table = self.tree.tables[layer]
        start, end = table.header_offset[row], table.end_offset(row)
        if self.index is not None:
            self.index.add_row(table, row, self.sink.position - start)
        self.sink.copy_range(self.layers[layer], start, end)

    def _content(self, member: Member, src: BinaryIO, path: str) -> None:
        header = member.header()
        header.name = path
        self._index(header)
        self.sink.add_payload_range(header, src, member.data_offset)

    def _link(self, node: int, path: str, target: str) -> None:
        entry = self.tree.member(node)
        if entry.type == tf.HARDLINK and paths.normalise(entry.linkname) == target:
            self._raw(node)
            return
        header = entry.header()
        header.name, header.type, header.linkname, header.size = path, tf.HARDLINK, target, 0
        self._header(header)

    def _synthetic(self, name: str) -> None:
        """A whiteout or opaque marker, written the same way whatever layer it came from."""
        self._header(tf.Header(name=name, mode=0))

    def _header(self, header: tf.Header) -> None:
        """A re-encoded entry with no payload."""
        self._index(header)
        self.sink.write(tf.encode(header))

    def _index(self, header: tf.Header) -> None:
        """Index an entry about to be written re-encoded: read back from its encoding (as
        `TarReader` will read it in the output), at the output's position."""
        if self.index is None:
            return
        member = next(iter(TarReader(io.BytesIO(tf.encode(header)), "squash output")))
        at = self.sink.position
        member.header_offset += at
        member.data_offset += at
        self.index.add(member)


def _is_home(nodes: NodeRows, node: int, inode: Inode) -> bool:
    """Was `node` made by the entry that created `inode`?"""
    return nodes.entry[node] == inode.entry and nodes.layer[node] == inode.layer


def _hides_lower_path(nodes: NodeRows, child: int) -> bool:
    """Deleted, or an implicit directory standing where the lower path was deleted."""
    kind = nodes.kind(child)
    return kind == GONE or (
        kind == DIR and nodes.entry[child] < 0 and nodes.hide(child) == RECREATED
    )
