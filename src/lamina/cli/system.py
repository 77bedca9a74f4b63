"""`lamina system check`: verify the store and reclaim what interruptions left.
`lamina system df`: the space images and containers take (api/usage.py)."""

from __future__ import annotations

from typing import Any

import click

from lamina import api, humanize
from lamina.api.usage import Usage, disk_usage
from lamina.cli import fields, usage_view
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.cli.formatting import emit, format_option


@cli.group(context_settings=CONTEXT)
def system() -> None:
    """The store itself: check and repair, disk usage."""


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


@system.command(context_settings=CONTEXT)
@click.option("-v", "--verbose", is_flag=True, help="Each image and container, as Docker's -v.")
@format_option("{{.Type}}: {{.Size}} ({{.Reclaimable}} reclaimable)")
@json_option
@pass_ctx
def df(c: Ctx, verbose: bool, template: str | None, as_json: bool) -> None:
    """Show the space images and containers take, as `docker system df`.

    Rows: Images, Containers, and Docker's Local Volumes and Build Cache, which
    lamina has not (always 0). A container's size is all of its files (lamina
    containers hold their whole filesystem), where Docker counts only what the
    container changed. With -v, --format is ignored, as in Docker.

    \b
    Examples:
      lamina system df
      lamina system df -v
      lamina system df --format '{{.Type}}\\t{{.Reclaimable}}'
    """
    found = disk_usage(c.store)
    if as_json:
        emit_json(usage_json(found))
    elif verbose:
        click.echo(usage_view.verbose(found), nl=False)
    else:
        emit(
            template or fields.DF_TABLE,
            usage_view.summary(found),
            headers=fields.DF_HEADERS,
            type_name=fields.DF_TYPE,
            table=fields.DF_TABLE,
        )


def usage_json(u: Usage) -> dict[str, Any]:
    """The shape of Docker's GET /system/df, where lamina has the data."""
    return {
        "LayersSize": u.layers_size,
        "Images": [
            {
                "Id": i.row.id,
                "RepoTags": [f"{i.row.repository}:{i.row.tag}"],
                "Created": i.row.created,
                "Size": i.row.size,
                "SharedSize": i.shared,
                "Containers": i.containers,
            }
            for i in u.images
        ],
        "Containers": [
            {"Id": x.container.id, "Names": ["/" + x.container.name], "SizeRw": x.size}
            for x in u.containers
        ],
        "Volumes": [],
        "BuildCache": [],
    }
