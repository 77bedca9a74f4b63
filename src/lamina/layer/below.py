"""What the filesystem under a run of layers holds, as a squash needs to know it (the
`below` of layer/squash.py, whose docstring says what each kind means)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from lamina.layer import tree
from lamina.layer.sizing import Unread
from lamina.layer.tarstream import Member
from lamina.layer.tree import DIR, GONE, LEAF, Tree


class Below:
    """What the filesystem under a run of layers holds (see module docstring)."""

    def __init__(self, lower: Tree | None, streams: Sequence[BinaryIO], known: bool) -> None:
        self._tree = lower
        self._streams = streams
        self.known = known
        self._names: dict[int, list[str]] | None = None

    @classmethod
    def nothing(cls) -> Below:
        return cls(None, (), True)

    @classmethod
    def unknown(cls) -> Below:
        return cls(None, (), False)

    @classmethod
    def layers(cls, streams: Sequence[BinaryIO], index_of: tree.IndexOf | None = None) -> Below:
        """The filesystem of `streams` (seekable, uncompressed, bottom first); only their
        header indexes are read when `index_of` gives them."""
        return cls(tree.build(streams, "lower layer", index_of=index_of), streams, True)

    @classmethod
    def sizing(cls, lower: Tree) -> Below:
        """The filesystem of a tree already built, for `squashed_size` (reads nothing).
        The tree must not change while this is in use."""
        return cls(lower, Unread(), True)

    def _kind(self, path: str) -> int | None:
        """The kind of the node at `path` in the lower tree (None: none there)."""
        assert self._tree is not None
        node, _ = self._tree.find(path)
        return None if node is None else self._tree.nodes.kind(node)

    def exists(self, path: str) -> bool:
        if self._tree is None:
            return not self.known
        kind = self._kind(path)
        return kind is not None and kind != GONE

    def is_dir(self, path: str) -> bool:
        if self._tree is None:
            return not self.known
        return self._kind(path) == DIR

    def has_children(self, path: str) -> bool:
        if self._tree is None:
            return not self.known
        node, _ = self._tree.find(path)
        nodes = self._tree.nodes
        return (
            node is not None
            and nodes.kind(node) == DIR
            and any(
                nodes.kind(child) != GONE and not nodes.is_holder(child)
                for child in nodes.children(node)
            )
        )

    def identity(self, path: str) -> object:
        """What names the file at `path`: its inode when known, else the path."""
        if self._tree is None:
            return path
        node, _ = self._tree.find(path)
        if node is None or self._tree.nodes.kind(node) != LEAF:
            return path
        return self._tree.inode_of(node, path)

    def names(self, path: str) -> list[str]:
        """Every path of the file at `path` (its hardlinks), `path` first."""
        node, _ = self._tree.find(path) if self._tree is not None else (None, False)
        inodes = self._tree.nodes.inodes if self._tree is not None else {}
        if self._tree is None or node is None or node not in inodes:
            return [path]  # (a leaf has an inode once a hardlink shares it)
        if self._names is None:
            self._names = {}
            for name, leaf in self._tree.leaves():
                if leaf in inodes:
                    self._names.setdefault(id(inodes[leaf]), []).append(name)
        others = sorted(n for n in self._names[id(inodes[node])] if n != path)
        return [path, *others]

    def content(self, path: str) -> tuple[BinaryIO, Member] | None:
        """The layer file and entry holding the content of the file at `path`."""
        if self._tree is None:
            return None
        node, _ = self._tree.find(path)
        if node is None or self._tree.nodes.kind(node) != LEAF:
            return None
        layer, row = self._tree.content(node)
        if row is None or layer < 0:
            return None
        return self._streams[layer], self._tree.tables[layer].member(row)
