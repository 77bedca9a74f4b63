"""The terminal view of `lamina analyze`: rich tables, a bar per layer, trees of paths.

Colours and box lines on a terminal; plain text when piped (rich decides).
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lamina import digest
from lamina.api.analyze import Report
from lamina.humanize import size as human
from lamina.layer.costs import Change
from lamina.ops.analyze import DirSize, LayerReport

BAR = 12
_EIGHTHS = " ▏▎▍▌▋▊▉"
_COLOURS = {"A": "green", "M": "yellow", "D": "red"}
TYPE_NAMES = {
    "0": "file",
    "1": "hardlink",
    "2": "symlink",
    "3": "char",
    "4": "block",
    "5": "dir",
    "6": "fifo",
}


def bar(value: int, largest: int, width: int = BAR) -> str:
    """A bar `width` cells long at `largest`, in eighths of a cell."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value * width * 8 / largest))
    return "█" * (eighths // 8) + _EIGHTHS[eighths % 8].strip()


def _created_by(layer: LayerReport) -> str:
    h = layer.history
    if h is None:
        return ""
    text = " ".join((h.created_by or h.comment).split())
    return text.removeprefix("/bin/sh -c #(nop) ").removeprefix("/bin/sh -c ")


def render(console: Console, report: Report) -> None:
    a = report.analysis
    title = Text.assemble(
        ("Image ", "bold"), (report.ref, "bold cyan"), f"  {digest.short(report.id)}"
    )
    if report.base:
        title.append(
            f"   base: {report.base} ({report.base_source}; layers 0..{a.base_layers - 1}, dim)"
        )
    else:
        title.append("   base: none known (all layers are the user's)", style="dim")
    console.print(title)
    console.print(_layers_table(a.layers))
    total_tar = sum(x.tar_size for x in a.layers)
    share = a.wasted / a.size if a.size else 0.0
    console.print(
        Text.assemble(
            ("Size ", "bold"),
            f"{human(a.size)} of files in {len(a.layers)} layers ({human(total_tar)} of tar)",
            "  ·  final filesystem ",
            human(a.final_size),
            "  ·  ",
            ("wasted ", "bold"),
            (f"{human(a.wasted)} ({share:.1%})", "red" if a.wasted else "green"),
            "  ·  ",
            ("efficiency ", "bold"),
            (f"{a.efficiency:.2%}", "green" if a.efficiency >= 0.9 else "yellow"),
            " (dive's score: deleting a directory, or hiding it opaque, does not lower it)",
        )
    )
    if a.wasted_paths:
        console.print(_wasted_table(console, report))
    if a.repeated_paths:
        console.print(
            Text(
                f"dive also counts {len(a.repeated_paths)} paths seen in several layers "
                "against its score (--json: RepeatedPaths)",
                "dim",
            )
        )
    console.print(_dir_tree(a.directories))
    _advice(console, report)


def _layers_table(layers: tuple[LayerReport, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for name, width in (
        ("#", 2),
        ("Size", 7),
        ("", BAR),
        ("Added", 5),
        ("Changed", 7),
        ("Removed", 7),
        ("Wasted", 7),
    ):
        table.add_column(name, justify="left" if width == BAR else "right", min_width=width)
    table.add_column("Created by", overflow="ellipsis", no_wrap=True, max_width=60)
    largest = max((x.count.size for x in layers), default=0)
    for x in layers:
        c = x.count
        table.add_row(
            str(x.index),
            human(c.size),
            Text(bar(c.size, largest), "dim blue" if x.base else "blue"),
            f"{c.added:,}",
            f"{c.modified:,}",
            f"{c.removed:,}",
            Text(human(c.wasted), "red") if c.wasted else Text("-", "dim"),
            Text(_created_by(x), overflow="ellipsis", no_wrap=True),
            style="dim" if x.base else None,
        )
    return table


def _titled(console: Console, title: str) -> Table:
    """A table under a bold title line (a table's own title wraps to its width)."""
    console.print(Text(title, "bold"))
    return Table(box=box.SIMPLE_HEAD, pad_edge=False)


def _wasted_table(console: Console, report: Report) -> Table:
    table = _titled(console, "Largest wasted paths (deleted, replaced or hidden by a layer)")
    table.add_column("Wasted", justify="right")
    table.add_column("Files", justify="right")
    table.add_column("Made in", justify="right")
    table.add_column("Thrown away by", justify="right")
    table.add_column("Path")
    for w in report.analysis.wasted_paths:
        made = ", ".join(map(str, w.made))
        table.add_row(human(w.size), f"{w.files:,}", made, str(w.by), "/" + w.path)
    return table


def _dir_tree(root: DirSize) -> Tree:
    def label(d: DirSize, parent: int) -> Text:
        share = f" {d.size / parent:.0%}" if parent else ""
        name = "/" if d.path == "/" else d.path.rpartition("/")[2] + "/"
        return Text.assemble((name, "bold"), f"  {human(d.size)}", (share, "dim"))

    tree = Tree(Text("Biggest directories of the final filesystem (1% or more)", "bold"))
    stack = [(tree.add(label(root, 0)), root)]
    while stack:
        branch, d = stack.pop()
        for child in d.children:
            stack.append((branch.add(label(child, d.size)), child))
    return tree


def _advice(console: Console, report: Report) -> None:
    a = report.analysis
    if not a.candidates and len(a.layers) - a.base_layers >= 2:
        return  # --advise 0
    if not a.advice:
        if len(a.layers) - a.base_layers < 2:
            console.print(Text("Squash advice: fewer than two user layers", "dim"))
        else:
            console.print(Text("Squash advice: no range of user layers saves bytes", "dim"))
        return
    table = _titled(console, "Squash advice (exact: the uncompressed tar bytes the image loses)")
    table.add_column("", justify="right")
    table.add_column("Layers")
    table.add_column("Saves", justify="right")
    table.add_column("Share", justify="right")
    table.add_column("Wasted files in them", justify="right")
    table.add_column("New layer", justify="right")
    for number, advice in enumerate(a.advice, 1):
        before = advice.saves + advice.size
        table.add_row(
            f"{number}.",
            f"{advice.span} ({advice.span.count} layers)",
            Text(human(advice.saves), "green"),
            f"{advice.saves / before:.0%}" if before else "",
            human(advice.reclaimed),
            human(advice.size),
        )
    console.print(table)
    for number, command in enumerate(report.commands, 1):
        console.print(Text.assemble(f"{number}. ", (command, "bold")), soft_wrap=True)


def render_layer(console: Console, report: Report) -> None:
    """The per-file view of one layer: its changes as a tree, with sizes."""
    a = report.analysis
    assert a.focus is not None
    x = a.layers[a.focus]
    c = x.count
    console.print(
        Text.assemble(
            (f"Layer {x.index} ", "bold"),
            ("base" if x.base else "user", "dim" if x.base else "cyan"),
            f" of {report.ref}  {digest.short(x.diff_id)}  {human(c.size)}",
            f"  {_created_by(x)}",
        )
    )
    console.print(
        Text.assemble(
            (f"{c.added:,} added ({human(c.added_bytes)})", "green"),
            "  ",
            (f"{c.modified:,} changed ({human(c.modified_bytes)})", "yellow"),
            "  ",
            (f"{c.removed:,} removed ({human(c.removed_bytes)})", "red"),
            "  ",
            (f"{human(c.wasted)} of it wasted by layers above", "red" if c.wasted else "dim"),
        )
    )
    console.print(change_tree(a.changes))


def change_tree(changes: tuple[Change, ...]) -> Tree:
    """Changes under their directories; a directory shows the bytes changed below it."""
    root = Tree(Text("/", "bold"))
    branches: dict[str, Tree] = {"": root}
    totals: dict[str, int] = {}
    for ch in changes:  # sorted by path: a parent directory comes first
        parent = ch.path.rpartition("/")[0]
        while True:
            totals[parent] = totals.get(parent, 0) + ch.size
            if not parent:
                break
            parent = parent.rpartition("/")[0]
    for ch in changes:
        branch = _branch(branches, ch.path.rpartition("/")[0])
        colour = _COLOURS[ch.kind]
        kind = TYPE_NAMES.get(ch.type, "file")
        name = ch.path.rpartition("/")[2] + ("" if kind == "file" else f" ({kind})")
        extra = f", {ch.files:,} files" if ch.kind == "D" and ch.files > 1 else ""
        branch.add(
            Text.assemble((f"{ch.kind} ", colour), name, (f"  {human(ch.size)}{extra}", "dim"))
        )
    for path, node in branches.items():
        if path:
            node.label = Text.assemble(
                (path.rpartition("/")[2] + "/", "bold"), (f"  {human(totals.get(path, 0))}", "dim")
            )
    return root


def _branch(branches: dict[str, Tree], path: str) -> Tree:
    found = branches.get(path)
    if found is None:
        found = branches[path] = _branch(branches, path.rpartition("/")[0]).add("")
    return found
