"""Layer analysis of an image: what each layer costs, what the layers above throw away,
dive's efficiency score, the biggest directories, and the squash advisor (ops/advise.py).

    report = analyze(image, open_tar, base_layers=1)

Every layer's tar headers are read once (data is seeked over, never read, on a seekable
file; a compressed layer is decompressed as it streams); nothing is extracted. One
`tree.Tree` applies the stack bottom-up while `layer/costs.py` counts; before layer A is
applied, that tree is the filesystem below A, which the advisor sizes each range A..B
against, exactly as `squash --layers A..B` would. What the numbers mean is in
layer/costs.py (file bytes, as `docker history` counts them) and ops/advise.py (tar bytes).

Layers are not verified against their digests here (that would read all their data);
`squash` verifies the layers it squashes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from lamina.image import Image, Layer
from lamina.layer.costs import Change, Costs, LayerCount
from lamina.layer.headerindex import HeaderIndex
from lamina.layer.tarstream import TarReader
from lamina.layer.tree import DIR, LEAF, Tree, gc_paused
from lamina.ops.advise import Advice, pick, sizes_from, with_reclaimed
from lamina.spec import HistoryEntry

# Opens a layer as its uncompressed tar stream, from its start.
OpenTar = Callable[[Layer], AbstractContextManager[BinaryIO]]
# A layer's header index when one is at hand (the store's cache), else None.
IndexOf = Callable[[Layer], HeaderIndex | None]


@dataclass(frozen=True)
class LayerReport:
    index: int
    diff_id: str
    tar_size: int  # bytes of the uncompressed layer tar
    base: bool  # one of the base image's layers
    history: HistoryEntry | None
    count: LayerCount


@dataclass(frozen=True)
class WastedPath:
    """Where bytes were thrown away: layer `by` deleted, replaced or hid `path` (a
    directory counts as one path), and with it `size` bytes of `files` files that the
    layers `made` had stored."""

    path: str
    by: int
    size: int
    files: int
    made: tuple[int, ...]


@dataclass(frozen=True)
class RepeatedPath:
    """A path dive counts against the score: seen `seen` times, `total` bytes in all,
    `wasted` = total - the smallest size it was seen at."""

    path: str
    seen: int
    total: int
    wasted: int


@dataclass(frozen=True)
class DirSize:
    """A directory of the final filesystem: file bytes and files below it."""

    path: str
    size: int
    files: int
    children: tuple[DirSize, ...] = ()


@dataclass(frozen=True)
class Analysis:
    layers: tuple[LayerReport, ...]
    size: int  # file bytes of all layers (Docker's image size)
    final_size: int  # file bytes of the final filesystem
    wasted: int  # file bytes in layers that the final filesystem does not show
    efficiency: float  # dive's score
    dive_wasted: int  # dive's "wasted bytes": total bytes of the paths seen more than once
    wasted_paths: tuple[WastedPath, ...]  # the largest, by size
    repeated_paths: tuple[RepeatedPath, ...]  # dive's, by its wasted bytes
    directories: DirSize
    advice: tuple[Advice, ...]  # the best ranges (ops/advise.pick)
    candidates: tuple[Advice, ...]  # every range of two or more layers above the base
    base_layers: int
    focus: int | None = None
    changes: tuple[Change, ...] = ()


def analyze(
    image: Image,
    open_tar: OpenTar,
    *,
    base_layers: int = 0,
    focus: int | None = None,
    top: int = 10,
    advise: int = 3,
    index_of: IndexOf | None = None,
) -> Analysis:
    """Analyse `image`; `base_layers` bottom layers are its base (the advisor keeps them);
    `focus` lists one layer's changes; `advise` ranges at most (0: no advice);
    `index_of` gives layers' header indexes, read instead of their tars."""
    n = len(image.layers)
    tables: list[HeaderIndex] = []
    tar_sizes: list[int] = []
    costs = Costs(n, focus)
    tree = Tree(watcher=costs)
    costs.nodes = tree.nodes
    found: list[Advice] = []
    with gc_paused():  # (docs: tree.gc_paused) until the tree is freed
        for index, layer in enumerate(image.layers):
            known = index_of(layer) if index_of is not None else None
            table = known or read_layer(open_tar, layer, f"layer {index}")
            tables.append(table)
            tar_sizes.append(table.tar_size)
            costs.layers[index].entries = len(table)
        for index, table in enumerate(tables):
            if advise and base_layers <= index < n - 1:
                found += sizes_from(index, tree, tables, tar_sizes)
            tree.add_layer(index, table)
            costs.end_layer(index)
        directories = directory_sizes(tree)
        del tree, tables
        return _result(image, costs, tar_sizes, directories, found, base_layers, top, advise)


def _result(
    image: Image,
    costs: Costs,
    tar_sizes: list[int],
    directories: DirSize,
    found: list[Advice],
    base_layers: int,
    top: int,
    advise: int,
) -> Analysis:
    found = with_reclaimed(found, costs.dead)
    history = image.config.layer_history()
    reports = tuple(
        LayerReport(i, layer.diff_id, tar_sizes[i], i < base_layers, history[i], costs.layers[i])
        for i, layer in enumerate(image.layers)
    )
    seen_twice = costs.repeated()
    repeated = sorted(
        (RepeatedPath(p, s.count, s.total, s.total - s.least) for p, s in seen_twice),
        key=lambda w: (-w.wasted, -w.total, w.path),
    )
    losses = sorted(costs.losses.values(), key=lambda x: (-x.size, x.path, x.by))[:top]
    return Analysis(
        layers=reports,
        size=sum(c.size for c in costs.layers),
        final_size=directories.size,
        wasted=sum(c.wasted for c in costs.layers),
        efficiency=costs.efficiency(),
        dive_wasted=sum(s.total for _, s in seen_twice),
        wasted_paths=tuple(
            WastedPath(x.path, x.by, x.size, x.files, tuple(sorted(x.made))) for x in losses
        ),
        repeated_paths=tuple(w for w in repeated[:top] if w.wasted),
        directories=directories,
        advice=tuple(pick(found, advise)),
        candidates=tuple(found),
        base_layers=base_layers,
        focus=costs.focus,
        changes=tuple(sorted(costs.changes, key=lambda c: c.path)),
    )


class _Counting:
    """Counts the bytes read from a stream that cannot seek (a decompressor)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.count += len(data)
        return data


def read_layer(open_tar: OpenTar, layer: Layer, what: str) -> HeaderIndex:
    """One layer's headers (and its tar size: `tar_size`)."""
    with open_tar(layer) as stream:
        if _seekable(stream):
            return HeaderIndex.of(stream, what)
        counting = _Counting(stream)
        found = HeaderIndex.collect(TarReader(counting, what))  # type: ignore[arg-type]
        while counting.read(1 << 20):
            pass
        found.tar_size = counting.count
        return found


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def directory_sizes(tree: Tree, depth: int = 3, width: int = 5, least: float = 0.01) -> DirSize:
    """The final filesystem's directories by size: `width` biggest children per
    directory, `depth` levels down, none under `least` of the whole. A file with several
    names counts once, under the name that sorts first (the same whatever order the
    tree lists children in). Linear in the tree."""
    root, nodes = tree.root, tree.nodes
    order: list[int] = []  # directories, parents first
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(child for child in nodes.children(node) if nodes.kind(child) == DIR)
    booked = _booked_names(tree, order)
    totals: dict[int, tuple[int, int]] = {}  # directory row -> (bytes, files)
    for node in reversed(order):
        size = files = 0
        for child in nodes.children(node):
            if nodes.kind(child) == LEAF:
                files += 1
                inode = nodes.inodes.get(child)  # None: a file with one name, counted here
                layer, row = tree.content(child)
                mine = inode is None or booked[id(inode)][1] == child
                if row is not None and layer >= 0 and mine:
                    size += tree.tables[layer].data_size(row)
            elif nodes.kind(child) == DIR:
                sub_size, sub_files = totals[child]
                size, files = size + sub_size, files + sub_files
        totals[node] = (size, files)

    def shape(path: str, node: int, level: int) -> DirSize:
        size, files = totals[node]
        if level >= depth:
            return DirSize(path or "/", size, files)
        dirs = [
            (f"{path}/{name}" if path else name, child)
            for name, child in nodes.named_children(node)
            if nodes.kind(child) == DIR and totals[child][0] > max(0, least * totals[root][0])
        ]
        dirs.sort(key=lambda d: (-totals[d[1]][0], d[0]))
        kids = tuple(shape(p, c, level + 1) for p, c in dirs[:width])
        return DirSize(path or "/", size, files, kids)

    return shape("", root, 0)


def _booked_names(tree: Tree, directories: list[int]) -> dict[int, tuple[str, int]]:
    """For each file with several names (a shared inode, by id), its name that sorts
    first and that name's leaf row: where `directory_sizes` books its bytes."""
    nodes = tree.nodes
    booked: dict[int, tuple[str, int]] = {}
    for directory in directories:
        for child in nodes.children(directory):
            inode = nodes.inodes.get(child)
            if inode is None or nodes.kind(child) != LEAF:
                continue
            path = _path_of(tree, child)
            if id(inode) not in booked or path < booked[id(inode)][0]:
                booked[id(inode)] = (path, child)
    return booked


def _path_of(tree: Tree, row: int) -> str:
    nodes, parts = tree.nodes, []
    while row != tree.root and row >= 0:
        parts.append(nodes.name(row))
        row = nodes.parent[row]
    return "/".join(reversed(parts))
