"""Commands that list and name images in the store: images, tag, rmi, prune, history,
inspect, tree. They import only what they use (lamina.api.images), to start fast."""

from __future__ import annotations

import click

from lamina import humanize
from lamina.api.images import history as history_rows
from lamina.api.images import image_prune as prune_images
from lamina.api.images import images as image_rows
from lamina.api.images import rmi as remove_images
from lamina.api.images import tag as tag_image
from lamina.api.images import tree as layer_tree
from lamina.api.inspection import inspect as inspect_objects
from lamina.api.lookup import get_image
from lamina.cli import fields
from lamina.cli.app import (
    CONTEXT,
    Ctx,
    VerbGroup,
    cli,
    emit_json,
    json_option,
    pass_ctx,
)
from lamina.cli.formatting import GoBoolFlags, emit, filter_option, format_option
from lamina.cli.habits import confirm, each
from lamina.cli.tree_view import print_tree, tree_json


@cli.command(context_settings=CONTEXT)
@click.argument("pattern", required=False, metavar="[REPO[:TAG]]")
@click.option("-a", "--all", "show_all", is_flag=True, help="Also untagged intermediate images.")
@click.option("-q", "--quiet", "ids_only", is_flag=True, help="Only image IDs.")
@click.option("--no-trunc", is_flag=True, help="Full image IDs.")
@click.option("--digests", is_flag=True, help="Show the registry's manifest digest.")
@filter_option("dangling=true|false, reference=GLOB, before=IMAGE, since=IMAGE, label=K[=V]")
@format_option("{{.ID}} {{.Repository}}:{{.Tag}}")
@json_option
@pass_ctx
def images(
    c: Ctx,
    pattern: str | None,
    show_all: bool,
    ids_only: bool,
    no_trunc: bool,
    digests: bool,
    filters: tuple[str, ...],
    template: str | None,
    as_json: bool,
) -> None:
    """List images, newest first (untagged parents only with -a).

    \b
    Examples:
      lamina images --filter dangling=true -q
      lamina images -f reference='local/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
      lamina images --format 'table {{.ID}}\\t{{.Repository}}\\t{{.CreatedAt}}'
    """
    rows = image_rows(c.store, all=show_all, pattern=pattern, filters=filters)
    if template is not None or not as_json:
        default = fields.IMAGE_DIGESTS_TABLE if digests else fields.IMAGE_TABLE
        emit(
            template or ("{{.ID}}" if ids_only else default),
            [fields.image(r, no_trunc) for r in rows],
            headers=fields.IMAGE_HEADERS,
            type_name=fields.IMAGE_TYPE,
            table=default,
        )
        return
    emit_json(
        [
            {
                "Repository": r.repository,
                "Tag": r.tag,
                "Id": r.id,
                "Created": r.created,
                "Size": r.size,
                "Digest": r.digest,
            }
            for r in rows
        ]
    )


@cli.command(context_settings=CONTEXT)
@click.argument("source")
@click.argument("target")
@json_option
@pass_ctx
def tag(c: Ctx, source: str, target: str, as_json: bool) -> None:
    """Give SOURCE image the name TARGET (NAME[:TAG])."""
    name = tag_image(c.store, source, target)
    if as_json:
        emit_json({"Source": source, "Tag": name, "Id": get_image(c.store, name).id})


@cli.command(context_settings=CONTEXT)
@click.argument("images", nargs=-1, required=True)
@click.option(
    "-f", "--force", is_flag=True, help="Remove even if several names or containers use it."
)
@click.option("--no-prune", is_flag=True, help="Keep untagged parents.")
@json_option
@pass_ctx
def rmi(c: Ctx, images: tuple[str, ...], force: bool, no_prune: bool, as_json: bool) -> None:
    """Remove images by Docker's rules.

    An image other images or containers depend on is only untagged (it stays
    as <none>); deleting the last dependent also deletes untagged parents.
    Like `docker rmi`, every IMAGE that can go goes; the others are reported
    on stderr and the exit status is non-zero (lamina's code for the failure,
    e.g. 3 when an image is not found, where Docker always exits 1).
    """
    each(
        images,
        lambda ref: remove_images(c.store, [ref], force=force, no_prune=no_prune),
        emit=rmi_json if as_json else None,
    )


def rmi_json(lines: list[str]) -> None:
    """Docker's API answer to an image delete: [{"Untagged": NAME}, {"Deleted": ID}, ...]."""
    emit_json([dict([line.split(": ", 1)]) for line in lines])


IMAGE_VERBS = {
    **{"ls": "images", "rm": "rmi", "history": "history", "tag": "tag", "save": "save"},
    **{"load": "load", "import": "import", "pull": "pull", "push": "push"},
}


@cli.group(cls=VerbGroup, aliases=IMAGE_VERBS, context_settings=CONTEXT)
def image() -> None:
    """Manage images: Docker's `image` sub-verbs (`image ls` is `images`, `image rm` is `rmi`)."""


PRUNE_WARNING = "WARNING! This will remove all dangling images."
PRUNE_ALL_WARNING = (
    "WARNING! This will remove all images without at least one container associated to them."
)


@image.command("prune", context_settings=CONTEXT)
@click.option("-a", "--all", "all_unused", is_flag=True, help="Every image no container uses.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@filter_option("until=24h, label=K[=V], label!=K[=V]", short=False)
@pass_ctx
def image_prune(c: Ctx, all_unused: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Delete dangling (untagged, childless) images; asks first, as Docker does.

    The answer is read from stdin, a terminal or not: only "y" goes ahead.

    \b
    Examples:
      lamina image prune -f                          # no question
      lamina image prune -a -f                       # every image no container uses
      echo y | lamina image prune
      lamina image prune -f --filter until=24h
      lamina image prune -a -f --filter label=stage=build
    """
    lines: list[str] = []
    reclaimed = 0
    if force or confirm(PRUNE_ALL_WARNING if all_unused else PRUNE_WARNING):
        lines, reclaimed = prune_images(c.store, all_unused=all_unused, filters=filters)
    if lines:
        click.echo("Deleted Images:")
        for line in lines:
            click.echo(line.replace("Untagged:", "untagged:").replace("Deleted:", "deleted:"))
        click.echo("")
    click.echo(f"Total reclaimed space: {humanize.size(reclaimed, 4)}")


@cli.command(cls=GoBoolFlags, context_settings=CONTEXT)
@click.argument("image")
@click.option("--no-trunc", is_flag=True, help="Full IDs and commands.")
@click.option(
    "-H",
    "--human/--no-human",
    default=True,
    help="Human sizes and dates (also Docker's --human=false: bytes, RFC 3339 times).",
)
@click.option("-q", "--quiet", "ids_only", is_flag=True, help="Only image IDs.")
@format_option("{{.ID}} {{.Size}} {{.CreatedBy}}")
@json_option
@pass_ctx
def history(
    c: Ctx,
    image: str,
    no_trunc: bool,
    human: bool,
    ids_only: bool,
    template: str | None,
    as_json: bool,
) -> None:
    """Show the history of an image, newest first.

    \b
    Examples:
      lamina history -q local/app:3
      lamina history --no-trunc --format '{{.CreatedBy}}' local/app:3
      lamina history --format 'table {{.ID}}\\t{{.Size}}\\t{{.CreatedAt}}' local/app:3
    """
    rows = history_rows(c.store, image)
    if as_json and template is None:
        emit_json(
            [
                {
                    "Id": r.image,
                    "Created": r.entry.created,
                    "CreatedBy": r.entry.created_by,
                    "Size": r.size,
                    "Comment": r.entry.comment,
                    "EmptyLayer": r.entry.empty_layer,
                }
                for r in rows
            ]
        )
        return
    emit(
        template or ("{{.ID}}" if ids_only else fields.HISTORY_TABLE),
        [fields.history(r, no_trunc, human) for r in rows],
        headers=fields.HISTORY_HEADERS,
        type_name=fields.HISTORY_TYPE,
        table=fields.HISTORY_TABLE,
    )


def inspect_command(kind: str | None) -> click.Command:
    """`inspect` (any kind, or --type), `image inspect`, `container inspect`: one verb."""
    what = kind or "object"

    arg = {"image": "images", "container": "containers"}.get(kind or "", "objects")

    @click.command(context_settings=CONTEXT)
    @click.argument(arg, nargs=-1, required=True, metavar=f"{what.upper()}...")
    @click.option("-f", "--format", "template", metavar="TEMPLATE", help=INSPECT_FORMAT_HELP)
    @click.option(
        "--type",
        "kind",
        type=click.Choice(["image", "container"]),
        default=kind,
        hidden=kind is not None,
        help="Only look for images, or only for containers.",
    )
    @pass_ctx
    def inspect(
        c: Ctx, /, template: str | None, kind: str | None, **names: tuple[str, ...]
    ) -> None:
        docs = inspect_objects(c.store, names[arg], kind)
        if template is None:
            emit_json(docs)
        else:
            emit(template, docs, plain=True)

    inspect.help = INSPECT_HELP.format(what=what)
    return inspect


INSPECT_FORMAT_HELP = "Go-template output, e.g. -f '{{.Id}}' or -f '{{json .Config}}'."
INSPECT_HELP = """Show {what}s as a JSON list, like `docker inspect`.

    A name is looked up as a container first, then as an image (--type picks one).

    \b
    Examples:
      lamina inspect -f '{{{{.Id}}}}' local/app:3
      lamina inspect -f '{{{{json .Config.Env}}}}' local/app:3
      lamina inspect --type container -f '{{{{.State.Status}}}}' mybox
    """
cli.add_command(inspect_command(None), "inspect")
image.add_command(inspect_command("image"), "inspect")


@cli.command(context_settings=CONTEXT)
@click.argument("image", required=False)
@json_option
@pass_ctx
def tree(c: Ctx, image: str | None, as_json: bool) -> None:
    """Show layer stacks as a tree, with the images that end at each layer."""
    nodes = layer_tree(c.store, image)
    if as_json:
        emit_json([tree_json(n) for n in nodes])
        return
    for n in nodes:
        print_tree(n, "")
