"""Docker's habits that several commands share: the prune prompt and "do what you can".

`confirm` asks as `docker ... prune` does: the question on stdout, one line read from
stdin whether or not it is a terminal (so `echo y | lamina image prune` works), and only
"y" or "Y" means yes. `each` runs a command on every argument as `docker rmi a b c`
does: the ones that fail are reported on stderr, one line each, the others are done;
the exit status then says that something failed (lamina's exit code of the failures
when they agree, e.g. 3 when none was found; else 1 - Docker always exits 1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

import click

from lamina.errors import LaminaError


def confirm(warning: str) -> bool:
    """Docker's PromptForConfirmation; False on "n", anything else, or end of input."""
    click.echo(f"{warning}\nAre you sure you want to continue? [y/N] ", nl=False)
    return sys.stdin.readline().strip() in ("y", "Y")


def each(
    items: Iterable[str],
    act: Callable[[str], Iterable[str]],
    emit: Callable[[list[str]], None] | None = None,
) -> None:
    """`act` on every item, echoing its lines (or, with `emit`, handing them all to it at
    the end); report failures as they happen and exit non-zero after."""
    codes, done = [], []
    for item in items:
        try:
            lines = list(act(item))
        except LaminaError as exc:
            click.echo(f"lamina: error: {exc.one_line()}", err=True)
            codes.append(exc.exit_code)
            continue
        done += lines
        for line in lines if emit is None else ():
            click.echo(line)
    if emit is not None:
        emit(done)
    if codes:
        raise click.exceptions.Exit(codes[0] if len(set(codes)) == 1 else 1)
