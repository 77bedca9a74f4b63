"""Commands for images in the store: load, save, images, tag, rmi, prune, history, inspect, tree."""

from __future__ import annotations

import sys
from typing import Any

import click

from lamina import api, digest, humanize
from lamina.cli import docker as docker_cli
from lamina.cli.app import CONTEXT, Ctx, cli, echo_table, emit_json, json_option, pass_ctx
from lamina.cli.delta import delta_options, is_delta, save_delta
from lamina.errors import UsageError
from lamina.spec import Platform
from lamina.store.views import TreeNode


@cli.command(context_settings=CONTEXT)
@click.argument("daemon_images", nargs=-1, metavar="[docker-daemon:NAME]...")
@click.option(
    "-i",
    "--input",
    "source",
    metavar="FILE",
    help="docker-archive, oci-archive or OCI layout dir (default: stdin).",
)
@click.option("--platform", metavar="OS/ARCH", help="Which image of a multi-platform index.")
@json_option
@pass_ctx
def load(
    c: Ctx, daemon_images: tuple[str, ...], source: str | None, platform: str | None, as_json: bool
) -> None:
    """Load images from an archive or a Docker Engine, with their layers, history and tags.

    Reads docker-archive (Docker legacy, Docker 25+, podman/skopeo layouts),
    oci-archive and OCI layout directories, any layer compression. A delta
    archive (see `save --exclude`) loads when the store has the layers it omits.
    docker-daemon:NAME streams images out of a Docker Engine (--docker-host,
    DOCKER_HOST or the docker context): same IDs; layers held are not written twice.

    \b
    Examples:
      lamina load -i app.tar
      lamina load docker-daemon:local/app:3 docker-daemon:debian:bookworm
      lamina --docker-host ssh://bob@host load docker-daemon:app:2
    """
    if daemon_images and (source is not None or platform is not None):
        raise UsageError("load reads either docker-daemon:NAME images or -i FILE")
    plat = Platform.parse(platform) if platform else None
    with c.progress() as progress:
        if daemon_images:
            results = docker_cli.load(c, daemon_images, progress)
        else:
            results = api.load(c.store, source, platform=plat, progress=progress)
    if as_json:
        emit_json(
            [{"Id": r.id, "RepoTags": list(r.names), "NewLayers": r.new_layers} for r in results]
        )
        return
    for r in results:
        for name, old in r.replaced:
            click.echo(f"The image {name} already exists, renaming the old one with ID {old}")
        for name in r.names:
            click.echo(f"Loaded image: {name}")
        if not r.names:
            click.echo(f"Loaded image ID: {r.id}")


@cli.command(context_settings=CONTEXT)
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--output", metavar="FILE", help="Write here (default: stdout).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(api.SAVE_FORMATS),
    default="docker-archive",
    show_default=True,
    help="docker-archive also holds an OCI layout; oci-dir needs -o DIR.",
)
@delta_options
@json_option
@pass_ctx
def save(
    c: Ctx,
    images: tuple[str, ...],
    output: str | None,
    fmt: str,
    exclude: tuple[str, ...],
    exclude_base: bool,
    have: str | None,
    as_json: bool,
) -> None:
    """Save images to one archive that docker, podman and skopeo all load.

    Several images share their common layers once. Output is deterministic:
    the same images always give the same bytes.

    With --exclude, --exclude-base or --have it writes a delta: every layer is
    listed but only those the recipient lacks are carried (what was left out is
    reported on stderr, or as JSON with --json). `docker load` and `lamina load`
    take it where the rest is present; `lamina expand` makes it whole for podman.
    IMAGE may be docker-daemon:NAME: saved from a Docker Engine, delta options too.
    """
    if output is None and sys.stdout.isatty():
        raise UsageError("refusing to write an archive to a terminal", "use -o FILE or a pipe")
    with docker_cli.reading(c, images, exclude) as (refs, exclude):
        if is_delta(exclude, exclude_base, have):
            save_delta(
                c,
                refs,
                output,
                fmt,
                exclude=exclude,
                exclude_base=exclude_base,
                have=have,
                as_json=as_json,
            )
            return
        with c.progress() as progress:
            api.save(
                c.store, refs, output if output else sys.stdout.buffer, fmt=fmt, progress=progress
            )


@cli.command(context_settings=CONTEXT)
@click.argument("pattern", required=False, metavar="[REPO[:TAG]]")
@click.option("-a", "--all", "show_all", is_flag=True, help="Also untagged intermediate images.")
@click.option("-q", "--quiet", "ids_only", is_flag=True, help="Only image IDs.")
@click.option("--no-trunc", is_flag=True, help="Full image IDs.")
@json_option
@pass_ctx
def images(
    c: Ctx, pattern: str | None, show_all: bool, ids_only: bool, no_trunc: bool, as_json: bool
) -> None:
    """List images, newest first (untagged parents only with -a)."""
    rows = api.images(c.store, all=show_all, pattern=pattern)
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
    table = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
    table += [
        (r.repository, r.tag, short(r.id), humanize.ago(r.created), humanize.size(r.size))
        for r in rows
    ]
    echo_table(table)


@cli.command(context_settings=CONTEXT)
@click.argument("source")
@click.argument("target")
@pass_ctx
def tag(c: Ctx, source: str, target: str) -> None:
    """Give SOURCE image the name TARGET (NAME[:TAG])."""
    api.tag(c.store, source, target)


@cli.command(context_settings=CONTEXT)
@click.argument("images", nargs=-1, required=True)
@click.option(
    "-f", "--force", is_flag=True, help="Remove even if several names or containers use it."
)
@click.option("--no-prune", is_flag=True, help="Keep untagged parents.")
@pass_ctx
def rmi(c: Ctx, images: tuple[str, ...], force: bool, no_prune: bool) -> None:
    """Remove images by Docker's rules.

    An image other images or containers depend on is only untagged (it stays
    as <none>); deleting the last dependent also deletes untagged parents.
    """
    for line in api.rmi(c.store, images, force=force, no_prune=no_prune):
        click.echo(line)


@cli.group(context_settings=CONTEXT)
def image() -> None:
    """Image housekeeping."""


@image.command("prune", context_settings=CONTEXT)
@click.option("-a", "--all", "all_unused", is_flag=True, help="Every image no container uses.")
@pass_ctx
def image_prune(c: Ctx, all_unused: bool) -> None:
    """Delete dangling (untagged, childless) images."""
    lines = api.image_prune(c.store, all_unused=all_unused)
    if lines:
        click.echo("Deleted Images:")
        for line in lines:
            click.echo(line.replace("Untagged:", "untagged:").replace("Deleted:", "deleted:"))


@cli.command(context_settings=CONTEXT)
@click.argument("image")
@click.option("--no-trunc", is_flag=True, help="Full IDs and commands.")
@click.option("-H", "--human/--no-human", default=True, help="Human sizes and dates.")
@json_option
@pass_ctx
def history(c: Ctx, image: str, no_trunc: bool, human: bool, as_json: bool) -> None:
    """Show the history of an image, newest first."""
    rows = api.history(c.store, image)
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
    emit_json(api.inspect(c.store, images))


@cli.command(context_settings=CONTEXT)
@click.argument("image", required=False)
@json_option
@pass_ctx
def tree(c: Ctx, image: str | None, as_json: bool) -> None:
    """Show layer stacks as a tree, with the images that end at each layer."""
    nodes = api.tree(c.store, image)
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
