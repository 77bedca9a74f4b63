"""The squash advisor: which contiguous ranges of layers to squash, and the exact bytes
each would save.

    found = sizes_from(start, lower_tree, tables, tar_sizes)  # every range at start
    best = pick(found, top=3)

A range's saving is the sum of its layers' uncompressed tar sizes minus the size of the
layer `lamina squash --layers A..B` writes for it: the same tree (layer/tree.py) and the
same pass 2 (layer/squash.py) with a sink that only counts, so the number is the size
change the squash makes, to the byte. The tree of the range grows one layer at a time,
so every range starting at one layer costs one walk of the range, not one build each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from lamina.layer.headerindex import HeaderIndex
from lamina.layer.squash import Below, squashed_size
from lamina.layer.tree import Tree
from lamina.ops.squash import Range


@dataclass(frozen=True)
class Advice:
    span: Range
    saves: int  # uncompressed tar bytes the image loses (sum of the range - size)
    size: int  # the squashed layer's size
    reclaimed: int = 0  # file bytes of the range that the range itself hides (costs.dead)


def sizes_from(
    start: int, lower: Tree, layers: Sequence[HeaderIndex], tar_sizes: Sequence[int]
) -> list[Advice]:
    """Every range of two or more layers starting at `start`; `lower` is the tree of
    layers 0..start-1 (it must not change meanwhile)."""
    below = Below.sizing(lower) if start else Below.nothing()
    merged = Tree(below.identity)
    total = 0
    found: list[Advice] = []
    for offset, table in enumerate(layers[start:]):
        merged.add_layer(offset, table)
        total += tar_sizes[start + offset]
        if offset:
            size = squashed_size(merged, below)
            found.append(Advice(Range(start, start + offset + 1), total - size, size))
    return found


def with_reclaimed(found: Sequence[Advice], dead: Sequence[Sequence[int]]) -> list[Advice]:
    """`found` with `reclaimed` filled in from `Costs.dead` (of layer i, hidden by j)."""
    out = []
    for a in found:
        lo, hi = a.span.start, a.span.stop
        out.append(replace(a, reclaimed=sum(sum(dead[i][i:hi]) for i in range(lo, hi))))
    return out


def pick(found: Sequence[Advice], top: int) -> list[Advice]:
    """The `top` ranges that save the most (ties: fewer layers, then lower), leaving out
    ranges that save nothing and ranges that only add layers to a better pick."""
    chosen: list[Advice] = []
    for advice in sorted(found, key=lambda a: (-a.saves, a.span.count, a.span.start)):
        if len(chosen) >= top or advice.saves <= 0:
            break
        if any(_contains(advice.span, c.span) and c.saves >= advice.saves for c in chosen):
            continue
        chosen.append(advice)
    return chosen


def _contains(outer: Range, inner: Range) -> bool:
    return outer.start <= inner.start and inner.stop <= outer.stop
