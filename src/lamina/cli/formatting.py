"""Docker's `--format` for listings and inspect: how a template becomes lines of output.

`--format TEMPLATE` prints the template (lamina.cli.template) once per row, each
followed by a newline; `\\t` and `\\n` in it are a tab and a newline. A template that
starts with `table` also prints a header row (each field's column title, as Docker
names it) and aligns the tab-separated cells as Docker's tabwriter does (cells padded
by 3 spaces to at least 10 columns); `table` alone is the command's usual table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from lamina.cli.template import parse

F = TypeVar("F", bound=Callable[..., Any])


def format_option(example: str) -> Callable[[F], F]:
    """`--format TEMPLATE`, with one example in its help."""
    help_text = f"Go-template output, e.g. --format '{example}' (see docs/design.md)."
    return click.option("--format", "template", metavar="TEMPLATE", help=help_text)


def filter_option(keys: str, short: bool = True) -> Callable[[F], F]:
    """`-f/--filter KEY=VALUE` (`--filter` only where -f is --force), repeatable; the same
    key ORs, different keys AND (api/filters.py)."""
    help_text = f"Filter: {keys} (repeat: same key ORs, different keys AND)."
    names = ("-f", "--filter") if short else ("--filter",)
    return click.option(*names, "filters", multiple=True, metavar="KEY=VALUE", help=help_text)


class GoBoolFlags(click.Command):
    """A command whose `--x/--no-x` flags also take Docker's spelling: `--x=false`,
    `-X=false`, `--x=true` (`-H=false` for `--no-human`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = {}
        for p in self.params:
            if isinstance(p, click.Option) and p.secondary_opts:
                for name in p.opts:
                    flags[name] = (p.opts[-1], p.secondary_opts[0])
        out = []
        for arg in args:
            name, sep, value = arg.partition("=")
            if sep and name in flags and value.lower() in ("true", "false", "1", "0"):
                arg = flags[name][value.lower() in ("false", "0")]
            out.append(arg)
        return super().parse_args(ctx, out)


def render(
    template: str,
    rows: Sequence[Any],
    *,
    headers: Mapping[str, str] | None = None,
    type_name: str | None = None,
    table: str = "",
    plain: bool = False,
) -> str:
    """All of the output for `rows` (each row's text and a newline; a table aligned).
    `plain`: the template as given, no `table` or escapes (`inspect -f`, as Docker's)."""
    if plain:
        compiled = parse(template, type_name)
        return "".join(compiled.execute(row) + "\n" for row in rows)
    is_table = template.startswith("table")
    if is_table and template.strip() == "table" and table:
        template = table
    body = template[len("table") :] if is_table else template
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    compiled = parse(body, type_name)
    text = "".join(compiled.execute(row) + "\n" for row in rows)
    if not is_table:
        return text
    head = compiled.execute(dict(headers or {}), header=True) + "\n"
    return tabwrite(head + text)


def emit(template: str, rows: Sequence[Any], **how: Any) -> None:
    """Print `render`'s output (see there for `how`)."""
    click.echo(render(template, rows, **how), nl=False)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter as Docker configures it: a tab ends a cell; every cell of a
    column (but a line's last) is padded to the column's width: its widest cell plus
    `padding`, at least `minwidth`. Columns are measured over runs of lines that have them."""
    lines = [line.split("\t") for line in text.split("\n")]
    widths = [[0] * (len(cells) - 1) for cells in lines]
    column = 0
    while True:
        have = [i for i, cells in enumerate(lines) if len(cells) - 1 > column]
        if not have:
            break
        runs: list[list[int]] = []
        for i in have:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            width = max([minwidth] + [len(lines[i][column]) + padding for i in run])
            for i in run:
                widths[i][column] = width
        column += 1
    out = []
    for cells, cell_widths in zip(lines, widths, strict=True):
        padded = (c.ljust(w) for c, w in zip(cells[:-1], cell_widths, strict=True))
        out.append("".join(padded) + cells[-1])
    return "\n".join(out)
