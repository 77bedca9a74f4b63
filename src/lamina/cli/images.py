"""Commands that list and name images in the store: images, tag, rmi, prune, history,
inspect, tree. They import only what they use (lamina.api.images), to start fast."""

from __future__ import annotations

from typing import Any

import click

from lamina import digest, humanize
from lamina.api.images import history as history_rows
from lamina.api.images import image_prune as prune_images
from lamina.api.images import images as image_rows
from lamina.api.images import inspect as inspect_images
from lamina.api.images import rmi as remove_images
from lamina.api.images import tag as tag_image
from lamina.api.images import tree as layer_tree
from lamina.api.lookup import get_image
from lamina.api.views import TreeNode
from lamina.cli.app import CONTEXT, Ctx, cli, echo_table, emit_json, json_option, pass_ctx
from lamina.cli.habits import confirm, each


@cli.command(context_settings=CONTEXT)
@click.argument("pattern", required=False, metavar="[REPO[:TAG]]")
@click.option("-a", "--all", "show_all", is_flag=True, help="Also untagged intermediate images.")
@click.option("-q", "--quiet", "ids_only", is_flag=True, help="Only image IDs.")
@click.option("--no-trunc", is_flag=True, help="Full image IDs.")
@click.option("--digests", is_flag=True, help="Show the registry's manifest digest.")
@json_option
@pass_ctx
def images(
    c: Ctx,
    pattern: str | None,
    show_all: bool,
    ids_only: bool,
    no_trunc: bool,
    digests: bool,
    as_json: bool,
) -> None:
    """List images, newest first (untagged parents only with -a)."""
    rows = image_rows(c.store, all=show_all, pattern=pattern)
    if as_json:
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
        return

    def short(image_id: str) -> str:
        return image_id if no_trunc else digest.short(image_id)

    if ids_only:
        for ident in dict.fromkeys(short(r.id) for r in rows):
            click.echo(ident)
        return
    extra = [("DIGEST",)] + [(r.digest,) for r in rows] if digests else [()] * (len(rows) + 1)
    table = [("REPOSITORY", "TAG", *extra[0], "IMAGE ID", "CREATED", "SIZE")]
    table += [
        (r.repository, r.tag, *d, short(r.id), humanize.ago(r.created), humanize.size(r.size))
        for r, d in zip(rows, extra[1:], strict=True)
    ]
    echo_table(table)


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


@cli.group(context_settings=CONTEXT)
def image() -> None:
    """Image housekeeping."""


PRUNE_WARNING = "WARNING! This will remove all dangling images."
PRUNE_ALL_WARNING = (
    "WARNING! This will remove all images without at least one container associated to them."
)


@image.command("prune", context_settings=CONTEXT)
@click.option("-a", "--all", "all_unused", is_flag=True, help="Every image no container uses.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def image_prune(c: Ctx, all_unused: bool, force: bool) -> None:
    """Delete dangling (untagged, childless) images; asks first, as Docker does.

    The answer is read from stdin, a terminal or not: only "y" goes ahead.

    \b
    Examples:
      lamina image prune -f          # no question
      lamina image prune -a -f       # every image no container uses
      echo y | lamina image prune
    """
    lines: list[str] = []
    reclaimed = 0
    if force or confirm(PRUNE_ALL_WARNING if all_unused else PRUNE_WARNING):
        lines, reclaimed = prune_images(c.store, all_unused=all_unused)
    if lines:
        click.echo("Deleted Images:")
        for line in lines:
            click.echo(line.replace("Untagged:", "untagged:").replace("Deleted:", "deleted:"))
        click.echo("")
    click.echo(f"Total reclaimed space: {humanize.size(reclaimed, 4)}")


@cli.command(context_settings=CONTEXT)
@click.argument("image")
@click.option("--no-trunc", is_flag=True, help="Full IDs and commands.")
@click.option("-H", "--human/--no-human", default=True, help="Human sizes and dates.")
@json_option
@pass_ctx
def history(c: Ctx, image: str, no_trunc: bool, human: bool, as_json: bool) -> None:
    """Show the history of an image, newest first."""
    rows = history_rows(c.store, image)
    if as_json:
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
    table = [("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT")]
    for r in rows:
        ident = r.image if no_trunc or r.image == "<missing>" else digest.short(r.image)
        by = (
            r.entry.created_by
            if no_trunc or len(r.entry.created_by) <= 45
            else r.entry.created_by[:44] + "…"
        )
        when = humanize.ago(r.entry.created) if human else r.entry.created
        size = humanize.size(r.size) if human else str(r.size)
        table.append((ident, when, by, size, r.entry.comment))
    echo_table(table)


@cli.command(context_settings=CONTEXT)
@click.argument("images", nargs=-1, required=True)
@pass_ctx
def inspect(c: Ctx, images: tuple[str, ...]) -> None:
    """Show images as a JSON list, like `docker inspect`."""
    emit_json(inspect_images(c.store, images))


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


def tree_json(n: TreeNode) -> dict[str, Any]:
    return {
        "ChainId": n.chain_id,
        "DiffId": n.diff_id,
        "Size": n.size,
        "Images": [{"Id": i.id, "RepoTags": list(i.names)} for i in n.images],
        "Children": [tree_json(k) for k in n.children],
    }


def print_tree(n: TreeNode, indent: str) -> None:
    label = ""
    if n.images:
        parts = []
        for img in n.images:
            tags = ", ".join(img.names) if img.names else "<none>"
            parts.append(f"{digest.short(img.id)} Tags: {tags}")
        label = "  " + "; ".join(parts)
    click.echo(f"{indent}└─{digest.short(n.diff_id)} Size: {humanize.size(n.size)}{label}")
    for k in n.children:
        print_tree(k, indent + "  ")
