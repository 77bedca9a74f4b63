"""Delta commands: save's --exclude/--exclude-base/--have, inventory, expand, send, receive."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from lamina import atomic, digest, humanize
from lamina.api import delta, transfer
from lamina.api.docker import is_daemon_ref
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.errors import UsageError
from lamina.image import Image, Layer
from lamina.ops.delta import Plan

# -- save's delta options (the save command itself lives in cli/images.py) -------


def delta_options(f: click.decorators.FC) -> click.decorators.FC:
    """--exclude, --exclude-base and --have for `save`."""
    f = click.option(
        "--have",
        metavar="FILE",
        help="Leave out every layer this inventory lists (`lamina inventory` on the recipient).",
    )(f)
    f = click.option(
        "--exclude-base",
        is_flag=True,
        help="Leave out each image's base (its base annotations, else its oldest tagged ancestor).",
    )(f)
    return click.option(
        "--exclude",
        multiple=True,
        metavar="IMAGE",
        help="Leave out IMAGE's layers: the recipient has it (repeatable).",
    )(f)


def is_delta(exclude: Sequence[str], exclude_base: bool, have: str | None) -> bool:
    return bool(exclude) or exclude_base or have is not None


def save_delta(
    c: Ctx,
    images: Sequence[str],
    output: str | None,
    fmt: str,
    *,
    exclude: Sequence[str],
    exclude_base: bool,
    have: str | None,
    as_json: bool,
) -> None:
    """`save` with delta options: write the archive, then say what was left out."""
    if fmt != "docker-archive":
        raise UsageError(f"a delta archive is a docker-archive, not {fmt}", "drop --format")
    with c.progress() as progress:
        saved = delta.save_delta(
            c.store,
            images,
            output if output else sys.stdout.buffer,
            exclude=exclude,
            exclude_base=exclude_base,
            have=have,
            progress=progress,
        )
    to_stdout = output is not None  # else stdout carries the archive: report on stderr
    if as_json:
        click.echo(json.dumps(saved_json(saved), indent=2), err=not to_stdout)
        return
    for line in summary(saved.plan, saved.bytes, saved.no_base):
        click.echo(line, err=True)


def saved_json(saved: delta.Saved) -> dict[str, Any]:
    return {
        "Images": [_image_json(i) for i in saved.images],
        "Omitted": [_layer_json(x) for x in saved.plan.omitted],
        "OmittedBytes": saved.plan.omitted_bytes,
        "Carried": [_layer_json(x) for x in saved.plan.carried],
        "CarriedBytes": saved.plan.carried_bytes,
        "ArchiveBytes": saved.bytes,
        "NoBase": list(saved.no_base),
    }


def summary(plan: Plan, archive_bytes: int, no_base: Sequence[str] = ()) -> list[str]:
    lines = [
        f"note: no base known for {name} (no base annotations, no tagged ancestor): "
        "all its layers are carried"
        for name in no_base
    ]
    if plan.omitted:
        lines.append(
            f"Left out {_count(plan.omitted)} the recipient has "
            f"({humanize.size(plan.omitted_bytes)}): {_ids(plan.omitted)}"
        )
    else:
        lines.append("Left out nothing: the recipient has none of these layers")
    full = archive_bytes + plan.omitted_bytes
    saved = f"{100 * plan.omitted_bytes / full:.0f}%" if full else "0%"
    lines.append(
        f"Carried {_count(plan.carried)} ({humanize.size(plan.carried_bytes)}); "
        f"wrote {humanize.size(archive_bytes)}, saved {humanize.size(plan.omitted_bytes)} ({saved})"
    )
    return lines


def _count(layers: Sequence[Layer]) -> str:
    return f"{len(layers)} layer{'' if len(layers) == 1 else 's'}"


def _ids(layers: Sequence[Layer], most: int = 6) -> str:
    shown = ", ".join(digest.short(x.diff_id) for x in layers[:most])
    return shown + (f" and {len(layers) - most} more" if len(layers) > most else "")


def _layer_json(layer: Layer) -> dict[str, Any]:
    return {"DiffId": layer.diff_id, "Size": layer.size}


def _image_json(image: Image) -> dict[str, Any]:
    return {"Id": image.id, "RepoTags": list(image.names)}


# -- inventory and expand --------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.option("-o", "--output", metavar="FILE", help="Write here (default: stdout).")
@click.option("--docker", "of_docker", is_flag=True, help="What a Docker Engine holds instead.")
@pass_ctx
def inventory(c: Ctx, output: str | None, of_docker: bool) -> None:
    """Write what this store holds (layers by chain ID, images, tags) as JSON.

    Give the file to the sender: `lamina save --have FILE ...` then leaves out
    every layer this store already has. With --docker: what the Docker Engine
    (--docker-host, DOCKER_HOST or the docker context) holds, in the same format.
    """
    if of_docker:
        from lamina.cli import docker as docker_cli  # cli.docker builds on this module

        docker_cli.inventory(c, output)
        return
    data = delta.inventory(c.store).to_json()
    if output is None:
        sys.stdout.buffer.write(data)
        return
    with atomic.output(output) as f:
        f.write(data)


@cli.command(context_settings=CONTEXT)
@click.argument("delta_archive", metavar="DELTA")
@click.option("-o", "--output", metavar="FILE", required=True, help="The complete archive.")
@click.option(
    "--from",
    "base_archive",
    metavar="ARCHIVE",
    help="An archive holding the layers the delta leaves out (default: the store).",
)
@pass_ctx
def expand(c: Ctx, delta_archive: str, output: str, base_archive: str | None) -> None:
    """Turn a delta archive into a complete one (for podman and skopeo).

    The layers the delta leaves out come from the store, or from --from ARCHIVE;
    each is checked against its diff_id. Image IDs, history and tags are unchanged.
    """
    with c.progress() as progress:
        done = delta.expand(
            c.store, delta_archive, output, base_archive=base_archive, progress=progress
        )
    size = humanize.size(sum(x.size for x in done.filled))
    click.echo(
        f"Filled {_count(done.filled)} ({size}); wrote {humanize.size(done.bytes)}", err=True
    )


# -- send and receive ------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.argument("images", nargs=-1, required=True)
@click.option(
    "--to",
    "command",
    metavar="COMMAND",
    help="Runs `lamina receive` on the other side, e.g. 'ssh bob lamina receive'.",
)
@click.option(
    "--to-docker",
    "docker_host",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[HOST]",
    help="Into a Docker Engine (unix://, tcp://, ssh://USER@HOST; default: --docker-host, "
    "DOCKER_HOST, the docker context).",
)
@click.option("--full", is_flag=True, help="With --to-docker: every layer, whatever it has.")
@json_option
@pass_ctx
def send(
    c: Ctx,
    images: tuple[str, ...],
    command: str | None,
    docker_host: str | None,
    full: bool,
    as_json: bool,
) -> None:
    """Send images to another store or a Docker Engine, moving only the layers it lacks.

    \b
    COMMAND's stdin/stdout carry the conversation: the receiver says what it
    has, this side streams a delta archive, the receiver loads it and answers.
    With --to-docker the daemon's image list says what it has, and the delta
    streams into its image load; images it holds already are only tagged. Over
    ssh:// the other side needs Docker and sshd, nothing else. IMAGE may be
    docker-daemon:NAME (an image of the local Docker Engine).
    Examples:
      lamina send local/app:2 --to 'ssh bob lamina receive'
      lamina send local/app:2 --to 'lamina --store /srv/other receive'
      lamina send local/app:2 --to-docker ssh://bob@bobs-host
      lamina send docker-daemon:local/app:2 --to-docker ssh://bob@bobs-host
    """
    from lamina.cli import docker as docker_cli  # cli.docker builds on this module

    if (command is None) == (docker_host is None):
        raise UsageError("send needs one destination", "--to COMMAND or --to-docker [HOST]")
    if docker_host is not None:
        docker_cli.send_to_docker(c, images, docker_host or None, as_json, full)
        return
    assert command is not None
    with c.progress() as progress:
        if any(is_daemon_ref(i) for i in images):
            sent = docker_cli.send_from_docker(c, images, command, progress)
        else:
            sent = transfer.send(c.store, images, command, progress=progress)
    if as_json:
        emit_json(
            {
                **saved_json(delta.Saved(sent.images, sent.plan, sent.archive_bytes, ())),
                "WireSent": sent.wire_sent,
                "WireReceived": sent.wire_received,
                "Loaded": list(sent.loaded),
            }
        )
        return
    for line in summary(sent.plan, sent.archive_bytes):
        click.echo(line)
    for item in sent.loaded:
        for tag in item.get("RepoTags") or []:
            click.echo(f"Loaded image: {tag}")
        if not item.get("RepoTags"):
            click.echo(f"Loaded image ID: {item.get('Id')}")
    click.echo(f"Sent {humanize.size(sent.wire_sent)} to `{command}`")


@cli.command(context_settings=CONTEXT)
@pass_ctx
def receive(c: Ctx) -> None:
    """The other end of `lamina send`: speaks its protocol on stdin/stdout.

    Not for a terminal: `lamina send ... --to 'ssh HOST lamina receive'` runs it.
    Everything it loads is all-or-nothing, as with `load`.
    """
    if sys.stdin.isatty() or sys.stdout.isatty():
        raise UsageError(
            "receive talks to `lamina send` on stdin/stdout, not to a terminal",
            "run `lamina send IMAGE --to 'COMMAND'` where COMMAND runs `lamina receive`",
        )
    transfer.receive(c.store, sys.stdin.buffer, sys.stdout.buffer)
