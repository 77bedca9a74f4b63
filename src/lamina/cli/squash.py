"""Commands that reshape images: squash, flatten, rebase, diff.

They import what they use (lamina.api.squash), and the Docker Engine's client only for a
docker-daemon:NAME image, so that they start fast (cli/app.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lamina.api.squash import Reshaped
from lamina.api.squash import diff as diff_images
from lamina.api.squash import flatten as flatten_image
from lamina.api.squash import rebase as rebase_image
from lamina.api.squash import squash as squash_image
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.errors import UsageError
from lamina.transports.docker_engine import is_daemon_ref

if TYPE_CHECKING:
    from lamina.api.docker_reshape import ReshapedInDocker


def _report(result: Reshaped, as_json: bool, what: str, wrote: str | None = None) -> None:
    """The summary on stderr, the ID on stdout; `wrote`: the archive written (no store)."""
    if as_json:
        span = str(result.squashed) if result.squashed else None
        emit_json(
            {
                "Id": result.id,
                "Tag": result.name,
                "Squashed": span,
                "LayersBefore": result.layers_before,
                "LayersAfter": result.layers_after,
                "Unchanged": result.unchanged or None,
            }
        )
        return
    if result.unchanged:
        click.echo(f"{result.unchanged}; the image is unchanged", err=True)
    if result.squashed is not None:
        click.echo(
            f"{what} layers {result.squashed} ({result.squashed.count} layers): "
            f"{result.layers_before} -> {result.layers_after} layers",
            err=True,
        )
    if wrote is not None:
        click.echo(f"Wrote {wrote}" + (f" (as {result.name})" if result.name else ""), err=True)
    elif result.name:
        click.echo(f"Tagged: {result.name}", err=True)
    click.echo(result.id)


def _in_docker(c: Ctx, verb: str, image: str, as_json: bool, what: str, **kw: str | None) -> None:
    """`verb` done in the Docker Engine on docker-daemon:NAME `image` (its client is
    imported only now: the store's commands do not pay for it)."""
    from lamina.cli import docker as docker_cli

    done: ReshapedInDocker = docker_cli.reshape(c, verb, image, **kw)
    _report(done.result, as_json, what)
    if not as_json:
        docker_cli.report_sent(done.sent, False, err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("image", required=False)
@click.option("--base", metavar="BASE", help="Squash every layer above BASE's layers.")
@click.option(
    "--layers",
    metavar="A..B",
    help="0-based layer indexes, inclusive; negative count from the top (1..-1).",
)
@click.option("-t", "--tag", metavar="NAME[:TAG]", help="Name the new image (default: untagged).")
@click.option("-m", "--message", default="", help="Comment for the new history entry.")
@click.option("-i", "--input", "source", metavar="ARCHIVE", help="Work on an archive, no store.")
@click.option("-o", "--output", metavar="ARCHIVE", help="With -i: where the result goes.")
@json_option
@pass_ctx
def squash(
    c: Ctx,
    image: str | None,
    base: str | None,
    layers: str | None,
    tag: str | None,
    message: str,
    source: str | None,
    output: str | None,
    as_json: bool,
) -> None:
    """Squash a contiguous range of layers into one, keeping the rest byte for byte.

    By default every layer above the image's base (its tagged ancestor, or the base
    its annotations name) becomes one layer, so the base stays shared. The final
    filesystem is exactly the same (check with `lamina diff`), the history keeps
    every original entry plus one saying what was squashed, and the same input
    always gives the same image ID.

    \b
    Examples:
      lamina squash local/app:3 -t local/app:squashed
      lamina squash local/app:3 --base debian:bookworm
      lamina squash local/app:3 --layers 2..-2
      lamina squash -i app.tar -o app-squashed.tar --layers 1..-1
      lamina squash docker-daemon:local/app:3      # in Docker: only the new layer goes back

    An image written docker-daemon:NAME is squashed in a Docker Engine (--docker-host,
    DOCKER_HOST or the docker context): its base is the oldest tagged ancestor the
    daemon holds, the result is loaded back tagged -t NAME, else NAME itself.
    """
    if image is not None and is_daemon_ref(image):
        if source is not None:
            raise UsageError("squash works on docker-daemon:NAME or on -i ARCHIVE, not both")
        kw = {"base": base, "layers": layers, "tag": tag, "message": message}
        _in_docker(c, "squash", image, as_json, "squashed", **kw)
        return
    if source is not None:
        if output is None:
            raise UsageError("-i needs -o ARCHIVE for the result")
        from lamina.api.archive_squash import squash_archive  # (no store: its own imports)

        with c.progress() as progress:
            result = squash_archive(
                source,
                output,
                image=image,
                base=base,
                layers=layers,
                tag=tag,
                message=message,
                progress=progress,
            )
        _report(result, as_json, "squashed", wrote=output)
        return
    else:
        if image is None:
            raise UsageError("squash needs an IMAGE (or -i ARCHIVE)")
        with c.progress() as progress:
            result = squash_image(
                c.store,
                image,
                base=base,
                layers=layers,
                tag=tag,
                message=message,
                progress=progress,
            )
    _report(result, as_json, "squashed")


@cli.command(context_settings=CONTEXT)
@click.argument("image")
@click.option("-t", "--tag", metavar="NAME[:TAG]", help="Name the new image.")
@click.option("-m", "--message", default="", help="Comment for the new history entry.")
@json_option
@pass_ctx
def flatten(c: Ctx, image: str, tag: str | None, message: str, as_json: bool) -> None:
    """Squash all layers of IMAGE into one; its config (env, cmd, ...) is kept.

    IMAGE may be docker-daemon:NAME: flattened in that Docker Engine.
    """
    if is_daemon_ref(image):
        _in_docker(c, "flatten", image, as_json, "flattened", tag=tag, message=message)
        return
    with c.progress() as progress:
        result = flatten_image(c.store, image, tag=tag, message=message, progress=progress)
    _report(result, as_json, "flattened")


@cli.command(context_settings=CONTEXT)
@click.argument("image")
@click.option("--onto", required=True, metavar="NEWBASE", help="The base to move onto.")
@click.option("--base", metavar="OLDBASE", help="IMAGE's current base (default: found).")
@click.option("-t", "--tag", metavar="NAME[:TAG]", help="Name the new image.")
@json_option
@pass_ctx
def rebase(c: Ctx, image: str, onto: str, base: str | None, tag: str | None, as_json: bool) -> None:
    """Put the layers IMAGE has above OLDBASE on top of NEWBASE instead.

    No layer is rewritten; config diff_ids and history are recomputed.
    IMAGE may be docker-daemon:NAME (NEWBASE and OLDBASE then name daemon images too):
    rebased in that Docker Engine.
    """
    if is_daemon_ref(image):
        _in_docker(c, "rebase", image, as_json, "rebased", onto=onto, base=base, tag=tag)
        return
    _report(rebase_image(c.store, image, onto, base=base, tag=tag), as_json, "rebased")


@cli.command(context_settings=CONTEXT)
@click.argument("first")
@click.argument("second")
@click.option("--mtime", is_flag=True, help="Also compare modification times.")
@json_option
@pass_ctx
def diff(c: Ctx, first: str, second: str, mtime: bool, as_json: bool) -> None:
    """Compare the final filesystems of two images; exit 0 if equal, 1 if not.

    Compares type, mode, owner, size, content, link target, device numbers and
    xattrs of every path. A (only in SECOND), D (only in FIRST), C (changed).
    """
    with c.progress() as progress:
        changes = diff_images(c.store, first, second, mtime=mtime, progress=progress)
    if as_json:
        emit_json([{"Kind": ch.kind, "Path": "/" + ch.path, "Detail": ch.detail} for ch in changes])
    else:
        for change in changes:
            click.echo(str(change))
    if changes:
        click.get_current_context().exit(1)
