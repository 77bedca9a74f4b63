"""What a squash tree costs per entry, part by part (docs/design.md §11).

    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python bench/tree_memory.py [--entries 1000000]

Builds the header indexes of bench/scale.py's stack (cached in .cache/bench-scale), then
the tree over them, and prints the bytes per entry of each part: the indexes (RSS
growth while they are read), the tree (RSS growth while it is built) and, inside it,
each node column, the child index, the side names and the inodes (their sizes as
allocated: `array.buffer_info`, `sys.getsizeof`).
"""

from __future__ import annotations

import argparse
import sys
from array import array
from pathlib import Path

from scale import million_stack

from lamina.layer.headerindex import HeaderIndex
from lamina.layer.tree import Tree, gc_paused


def rss() -> int:
    """This process's resident set, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def allocated(column: array[int] | bytearray) -> int:
    return sys.getsizeof(column)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    paths = million_stack(args.entries)
    with gc_paused():
        start = rss()
        tables = []
        for p in paths:
            with p.open("rb") as f:
                tables.append(HeaderIndex.of(f))
        entries = sum(len(t) for t in tables)
        indexed = rss()
        tree = Tree()
        for i, table in enumerate(tables):
            tree.add_layer(i, table)
        built = rss()
    nodes = tree.nodes
    columns = {
        name: allocated(getattr(nodes, name))
        for name in ("parent", "entry", "layer", "name_hash", "first", "next", "flags")
    }
    parts = {
        **{f"column {k}": v for k, v in columns.items()},
        "child index (slots)": allocated(nodes.slots),
        "side names": sys.getsizeof(nodes.side)
        + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in nodes.side.items()),
        "inodes": sys.getsizeof(nodes.inodes),
    }
    print(f"{entries:,} entries, {len(nodes):,} node rows, {len(nodes.side):,} side names")
    print("| part | bytes/entry |\n|---|---|")
    print(f"| header indexes (RSS growth) | {(indexed - start) / entries:.1f} |")
    print(f"| tree (RSS growth) | {(built - indexed) / entries:.1f} |")
    for name, size in parts.items():
        print(f"| {name} | {size / entries:.1f} |")
    print(f"| tree parts summed | {sum(parts.values()) / entries:.1f} |")


if __name__ == "__main__":
    main()
