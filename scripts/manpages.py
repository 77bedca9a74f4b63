"""Write lamina's man pages (docs/man/lamina.1, lamina-COMMAND.1, ...) from the CLI itself.

    python scripts/manpages.py          # rewrite docs/man/
    python scripts/manpages.py --check  # exit 1 if a page is missing or out of date

Each page is the command's --help turned into roff: NAME, SYNOPSIS, DESCRIPTION (with
its examples), OPTIONS, and SEE ALSO. The wheel installs them in share/man/man1, where
`man lamina-save` finds them (man looks beside each PATH entry's bin/). A test runs the
check, so the pages never drift from --help.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lamina.cli import cli, load_commands

OUT = Path(__file__).resolve().parents[1] / "docs" / "man"
DATE = "lamina"  # no date in the pages: regenerating the same CLI gives the same bytes


def roff(text: str) -> str:
    """Plain text as roff: backslashes and leading dots/quotes made literal."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def walk(
    command: click.Command, path: tuple[str, ...], parent: click.Context | None
) -> list[tuple[tuple[str, ...], click.Command, click.Context]]:
    ctx = click.Context(command, info_name=path[-1], parent=parent)
    found = [(path, command, ctx)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                found += walk(sub, (*path, name), ctx)
    return found


def description(command: click.Command) -> str:
    """The help text, with click's \\b no-rewrap markers turned into roff no-fill blocks."""
    out = []
    for para in (command.help or "").strip().split("\n\n"):
        lines = para.splitlines()
        if lines and lines[0].strip() == "\b":
            out.append(".nf\n" + roff("\n".join(lines[1:])) + "\n.fi")
        else:
            out.append(roff(" ".join(line.strip() for line in lines)))
    return "\n.PP\n".join(out)


def options(command: click.Command, ctx: click.Context) -> str:
    parts = []
    for param in command.get_params(ctx):
        if isinstance(param, click.Argument):
            continue  # named in the synopsis
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        parts.append(f".TP\n\\fB{roff(names)}\\fR\n{roff(text)}")
    return "\n".join(parts)


def page(path: tuple[str, ...], command: click.Command, ctx: click.Context, subs: list[str]) -> str:
    name = "-".join(path)
    usage = " ".join(command.collect_usage_pieces(ctx))
    short = command.get_short_help_str(limit=80)
    sections = [
        f'.TH "{name.upper()}" "1" "" "{DATE}" "lamina manual"',
        f".SH NAME\n{name} \\- {roff(short)}",
        f".SH SYNOPSIS\n\\fB{' '.join(path)}\\fR {roff(usage)}",
        f".SH DESCRIPTION\n{description(command)}",
    ]
    opts = options(command, ctx)
    if opts:
        sections.append(f".SH OPTIONS\n{opts}")
    see = [f"{s}(1)" for s in subs] or ([f"{path[0]}(1)"] if len(path) > 1 else [])
    if see:
        sections.append(".SH SEE ALSO\n" + ", ".join(see))
    return "\n".join(sections) + "\n"


def pages() -> dict[str, str]:
    load_commands()
    found = walk(cli, ("lamina",), None)
    out = {}
    for path, command, ctx in found:
        subs = ["-".join(p) for p, _, _ in found if len(p) == len(path) + 1 and p[:-1] == path]
        out[f"{'-'.join(path)}.1"] = page(path, command, ctx, subs)
    return out


def main() -> int:
    wanted = pages()
    have = {p.name: p.read_text() for p in OUT.glob("*.1")} if OUT.is_dir() else {}
    if "--check" in sys.argv[1:]:
        if wanted != have:
            stale = sorted(
                set(wanted) ^ set(have) | {n for n in wanted if have.get(n) != wanted[n]}
            )
            print(
                f"man pages out of date ({', '.join(stale[:5])}...): "
                "run python scripts/manpages.py",
                file=sys.stderr,
            )
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in set(have) - set(wanted):
        (OUT / name).unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
