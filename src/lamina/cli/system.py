"""`lamina system check`: verify the store and reclaim what interruptions left."""

from __future__ import annotations

import click

from lamina import api, humanize
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx


@cli.group(context_settings=CONTEXT)
def system() -> None:
    """The store itself: check and repair."""


@system.command(context_settings=CONTEXT)
@click.option("--quick", is_flag=True, help="Compare blob sizes instead of re-hashing every blob.")
@click.option("-r", "--repair", is_flag=True, help="Reclaim leftovers and unreferenced blobs.")
@click.option("-f", "--force", is_flag=True, help="With --repair: also remove damaged images.")
@json_option
@pass_ctx
@click.pass_context
def check(
    ctx: click.Context, c: Ctx, quick: bool, repair: bool, force: bool, as_json: bool
) -> None:
    """Verify every blob, reference and container record; one line per problem.

    \b
    Exit 0: the store is sound (after --repair: it is now); 1: problems remain.
    --repair fixes what is safe: temp space of dead processes, an unfinished
    commit, deleted or unreferenced blobs. A damaged image is only removed with
    --repair --force.
    """
    found = api.system.check(c.store, quick=quick, repair=repair or force, force=force)
    if as_json:
        emit_json([{**vars(f), "image": f.image or None} for f in found])
    for f in found if not as_json else ():
        size = f"  {humanize.size(f.size)}" if f.size else ""
        done = "  (repaired)" if f.fixed else ""
        click.echo(f"{f.kind}: {f.subject}{size}: {f.message}{done}")
    ctx.exit(1 if any(not f.fixed for f in found) else 0)
