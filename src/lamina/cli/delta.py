"""Delta commands: save's --exclude/--exclude-base/--have, inventory, expand, send, receive."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import click

from lamina import atomic, humanize
from lamina.api import delta, transfer
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.cli.delta_view import NEEDS_LAMINA, count, saved_json, summary
from lamina.errors import UsageError
from lamina.transports.docker_engine import is_daemon_ref

# -- save's delta options (the save command itself lives in cli/images.py) -------


def delta_options(f: click.decorators.FC) -> click.decorators.FC:
    """--exclude, --exclude-base, --have and --no-patches for `save`."""
    f = click.option(
        "--no-patches",
        is_flag=True,
        help="Carry every layer the recipient lacks whole: no patches against layers it "
        "has (an archive with patches needs `lamina load`/`expand`; plain `docker load` "
        "refuses it).",
    )(f)
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
    no_patches: bool,
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
            patches=not no_patches,
            progress=progress,
        )
    to_stdout = output is not None  # else stdout carries the archive: report on stderr
    if saved.patched is not None and saved.patched.patches:
        click.echo(NEEDS_LAMINA, err=True)
    if as_json:
        click.echo(json.dumps(saved_json(saved), indent=2), err=not to_stdout)
        return
    for line in summary(saved.plan, saved.bytes, saved.no_base, saved.patched):
        click.echo(line, err=True)


# -- inventory and expand --------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.option("-o", "--output", metavar="FILE", help="Write here (default: stdout).")
@click.option("--docker", "of_docker", is_flag=True, help="What a Docker Engine holds instead.")
@click.option("--json", "as_json", is_flag=True, help="Accepted for scripts: it is JSON anyway.")
@pass_ctx
def inventory(c: Ctx, output: str | None, of_docker: bool, as_json: bool) -> None:
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
    click.echo(f"Filled {count(done.filled)} ({size}); wrote {humanize.size(done.bytes)}", err=True)


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
@click.option(
    "--no-patches", is_flag=True, help="With --to: whole layers only, no patches (see below)."
)
@json_option
@pass_ctx
def send(
    c: Ctx,
    images: tuple[str, ...],
    command: str | None,
    docker_host: str | None,
    full: bool,
    no_patches: bool,
    as_json: bool,
) -> None:
    """Send images to another store or a Docker Engine, moving only the layers it lacks.

    \b
    COMMAND's stdin/stdout carry the conversation: the receiver says what it
    has, this side streams a delta archive, the receiver loads it and answers.
    A layer the receiver lacks travels as a patch against the most similar layer
    it has (the older version's) when that is smaller; the receiver rebuilds it
    and checks its diff_id. With --to-docker the daemon's image list says what it
    has, and the delta streams into its image load, whole layers only (a Docker
    Engine cannot apply patches); images it holds already are only tagged. Over
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
            sent = docker_cli.send_from_docker(c, images, command, progress, not no_patches)
        else:
            sent = transfer.send(
                c.store, images, command, patches=not no_patches, progress=progress
            )
    if as_json:
        emit_json(
            {
                **saved_json(
                    delta.Saved(sent.images, sent.plan, sent.archive_bytes, (), sent.patched)
                ),
                "WireSent": sent.wire_sent,
                "WireReceived": sent.wire_received,
                "Loaded": list(sent.loaded),
            }
        )
        return
    for line in summary(sent.plan, sent.archive_bytes, (), sent.patched):
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
