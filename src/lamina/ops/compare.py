"""Compare the final filesystems of two images: what `lamina diff` prints.

Both stacks are applied from tar headers alone (lamina.layer.tree); file contents are
hashed only when everything else about two files is equal and they do not come from
the very same bytes of the same layer blob.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO

from lamina.image import Image, Layer
from lamina.layer import tarformat as tf
from lamina.layer import tree as fstree
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.tarstream import Member

OpenSeekable = Callable[[Layer], BinaryIO]
# The header index of a layer, from a cache or read from `stream` (its open tar).
IndexOf = Callable[[Layer, BinaryIO], HeaderIndex]

_TYPES = {
    tf.REGULAR: "file",
    tf.DIRECTORY: "dir",
    tf.SYMLINK: "symlink",
    tf.CHAR: "char",
    tf.BLOCKDEV: "block",
    tf.FIFO: "fifo",
}


@dataclass(frozen=True)
class Change:
    kind: str  # "A" only in the second image, "D" only in the first, "C" changed
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} /{self.path}" + (f"  ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class _Entry:
    """What one path is in a final filesystem, and where its content lives."""

    kind: str
    attrs: dict[str, object]
    content: tuple[int, Member] | None  # (layer index, member holding the data)


class _Side:
    def __init__(
        self, image: Image, streams: list[BinaryIO], index_of: fstree.IndexOf | None
    ) -> None:
        self.image = image
        self.streams = streams
        self.tree = fstree.build(streams, "layer", index_of=index_of)

    def entries(self, mtime: bool) -> dict[str, _Entry]:
        """Every path below the root, parents before children (iterative: a layer may
        nest directories thousands deep)."""
        out: dict[str, _Entry] = {}
        nodes = self.tree.nodes
        todo: list[tuple[int, str]] = [(self.tree.root, "")]
        while todo:
            node, path = todo.pop()
            for name, child in sorted(nodes.named_children(node)):
                if nodes.kind(child) == fstree.GONE:
                    continue
                child_path = f"{path}/{name}" if path else name
                out[child_path] = _describe(self.tree, child, mtime)
                if nodes.kind(child) == fstree.DIR:
                    todo.append((child, child_path))
        return out

    def digest_of(self, content: tuple[int, Member]) -> str:
        layer, member = content
        fd = self.streams[layer].fileno()
        h = hashlib.sha256()
        offset, left = member.data_offset, member.size
        while left > 0:
            chunk = os.pread(fd, min(left, 1 << 20), offset)
            if not chunk:
                break
            h.update(chunk)
            offset += len(chunk)
            left -= len(chunk)
        return h.hexdigest()


def _describe(tree: fstree.Tree, node: int, mtime: bool) -> _Entry:
    kind_of_node = tree.nodes.kind(node)
    if kind_of_node == fstree.DIR and tree.nodes.made(node) is None:
        # an implicit parent directory: what a runtime creates for it
        return _Entry("dir", {"mode": 0o755, "uid": 0, "gid": 0}, None)
    member = tree.member(node)
    content: tuple[int, Member] | None = None
    if kind_of_node == fstree.LEAF:
        layer, row = tree.content(node)  # a hardlink shows its target's inode
        if row is not None and layer >= 0:
            member = tree.tables[layer].member(row)
            if member.type == tf.REGULAR:
                content = (layer, member)
    kind = _TYPES.get(member.type, f"type {member.type}")
    attrs: dict[str, object] = {"mode": member.mode & 0o7777, "uid": member.uid, "gid": member.gid}
    if kind == "file":
        attrs["size"] = member.size
    if kind == "symlink":
        attrs["target"] = member.linkname
    if kind in ("char", "block"):
        attrs["device"] = (member.devmajor, member.devminor)
    if member.xattrs:
        attrs["xattrs"] = dict(sorted(member.xattrs.items()))
    if mtime:
        attrs["mtime"] = member.mtime
    return _Entry(kind, attrs, content)


def compare(
    first: Image,
    second: Image,
    open_seekable: OpenSeekable,
    *,
    mtime: bool = False,
    index_of: IndexOf | None = None,
) -> list[Change]:
    """Differences between the final filesystems of `first` and `second`, by path.
    `index_of` gives layers' header indexes (read instead of their headers)."""
    with ExitStack() as stack:
        sides = []
        for image in (first, second):
            streams = [stack.enter_context(open_seekable(x)) for x in image.layers]
            by_index = None if index_of is None else _by_index(image, index_of)
            sides.append(_Side(image, streams, by_index))
        a, b = sides
        return list(_changes(a, b, mtime))


def _changes(a: _Side, b: _Side, mtime: bool) -> Iterator[Change]:
    left, right = a.entries(mtime), b.entries(mtime)
    for path in sorted(left.keys() | right.keys()):
        x, y = left.get(path), right.get(path)
        if y is None:
            yield Change("D", path)
        elif x is None:
            yield Change("A", path)
        elif x.kind != y.kind:
            yield Change("C", path, f"{x.kind} -> {y.kind}")
        else:
            details = [
                f"{k}: {x.attrs.get(k)} -> {y.attrs.get(k)}"
                for k in sorted(x.attrs.keys() | y.attrs.keys())
                if x.attrs.get(k) != y.attrs.get(k)
            ]
            if not details and _content_differs(a, b, x, y):
                details.append("content")
            if details:
                yield Change("C", path, "; ".join(details))


def _content_differs(a: _Side, b: _Side, x: _Entry, y: _Entry) -> bool:
    if x.content is None or y.content is None:
        return False
    (la, ma), (lb, mb) = x.content, y.content
    same_blob = a.image.layers[la].diff_id == b.image.layers[lb].diff_id
    if same_blob and ma.data_offset == mb.data_offset:
        return False  # the very same bytes of the same layer blob: no need to hash
    return a.digest_of(x.content) != b.digest_of(y.content)


def _by_index(image: Image, index_of: IndexOf) -> fstree.IndexOf:
    return lambda i, stream: index_of(image.layers[i], stream)
