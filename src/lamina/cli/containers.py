"""Commands for working containers and the images they make: create, run, cp, ps, rm,
container prune, commit, export, import. Output is `docker`'s, line for line."""

from __future__ import annotations

import sys

import click

from lamina import humanize, reference
from lamina.api import lifecycle
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
from lamina.cli.formatting import emit, filter_option, format_option
from lamina.cli.habits import confirm, each
from lamina.cli.images import inspect_command
from lamina.cli.ps_view import ps_json, ps_row
from lamina.errors import UsageError

# everything after IMAGE belongs to the container's command, options included
COMMAND_CONTEXT = {**CONTEXT, "ignore_unknown_options": True, "allow_interspersed_args": False}
CHANGE_HELP = "Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, ..."


def _notes(c: Ctx, lines: tuple[str, ...]) -> None:
    if not c.quiet:
        for line in lines:
            click.echo(f"lamina: note: {line}", err=True)


@cli.command(context_settings=COMMAND_CONTEXT)
@click.option("--name", metavar="NAME", help="Name the container (default: a random one).")
@click.argument("ref", metavar="IMAGE")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def create(c: Ctx, name: str | None, ref: str, command: tuple[str, ...]) -> None:
    """Create a container: IMAGE's filesystem, ready to change, run or commit.

    Prints the new container's ID. Works without root (owners and device
    nodes are then left out, and said so).
    """
    with c.progress() as progress:
        made = lifecycle.create(c.store, ref, command, name=name, progress=progress)
    _notes(c, made.skipped)
    click.echo(made.container.id)


@cli.command(context_settings=COMMAND_CONTEXT)
@click.option("--name", metavar="NAME", help="Name the container (default: a random one).")
@click.option("--rm", "remove", is_flag=True, help="Remove the container when it exits.")
@click.argument("ref", metavar="IMAGE")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def run(c: Ctx, name: str | None, remove: bool, ref: str, command: tuple[str, ...]) -> None:
    """Run COMMAND in a new container of IMAGE (root only), in the foreground.

    The command runs chrooted into the container in new mount and PID
    namespaces, with the image's environment, working directory and user.
    lamina exits with the command's exit code.
    """
    with c.progress() as progress:  # the create's; closed before the command starts
        _, code = lifecycle.run(c.store, ref, command, name=name, remove=remove, progress=progress)
    if code:
        raise click.exceptions.Exit(code)


@cli.command(context_settings=CONTEXT)
@click.option("-L", "--follow-link", "follow", is_flag=True, help="Follow a symlink SRC.")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@pass_ctx
def cp(c: Ctx, follow: bool, src: str, dst: str) -> None:
    """Copy files between a container and the host.

    \b
    Examples:
      lamina cp ./conf mybox:/etc/app      host -> container
      lamina cp mybox:/var/log ./logs      container -> host
      lamina cp mybox:/etc - | tar -t      a tar of /etc on stdout (etc/...)
      tar -c app | lamina cp - mybox:/srv  a tar from stdin, extracted into /srv

    Paths in a container are resolved as the container sees them and never
    lead outside its root; a tar entry that would land outside the directory
    it is extracted into fails the copy. With `-`, the container side must be
    a directory to extract into, as with `docker cp`.
    """
    if dst == "-" and sys.stdout.isatty():
        raise UsageError("refusing to write a tar to a terminal", "pipe it, or copy to a path")
    lifecycle.cp(c.store, src, dst, follow=follow)


@cli.command(context_settings=CONTEXT)
@click.option("-a", "--all", "show_all", is_flag=True, help="Also containers not running.")
@click.option("-q", "--quiet", "ids_only", is_flag=True, help="Only container IDs.")
@click.option("--no-trunc", is_flag=True, help="Full IDs and commands.")
@filter_option("id=, name=, label=K[=V], status=, exited=, ancestor=, before=, since=")
@format_option("{{.ID}} {{.Names}} {{.Status}}")
@json_option
@pass_ctx
def ps(
    c: Ctx,
    show_all: bool,
    ids_only: bool,
    no_trunc: bool,
    filters: tuple[str, ...],
    template: str | None,
    as_json: bool,
) -> None:
    """List containers (running ones; all with -a), newest first.

    \b
    Examples:
      lamina ps -a --filter status=exited -q
      lamina ps -a -f ancestor=local/app --format '{{.Names}}: {{.Status}}'
    """
    found = lifecycle.ps(c.store, all=show_all, filters=filters)
    if template is not None or not (as_json or ids_only):
        emit(
            template or fields.CONTAINER_TABLE,
            [ps_row(c, x, no_trunc) for x in found],
            headers=fields.CONTAINER_HEADERS,
            type_name=fields.CONTAINER_TYPE,
            table=fields.CONTAINER_TABLE,
        )
    elif as_json:
        emit_json([ps_json(c, x) for x in found])
    else:
        for x in found:
            click.echo(x.id if no_trunc else x.short_id)


@cli.command(context_settings=CONTEXT)
@click.option("-f", "--force", is_flag=True, help="Kill and remove a running container.")
@click.argument("containers", nargs=-1, required=True)
@pass_ctx
def rm(c: Ctx, force: bool, containers: tuple[str, ...]) -> None:
    """Remove containers (their filesystems go with them).

    Like `docker rm`, every CONTAINER that can go goes; the others are
    reported on stderr and the exit status is non-zero (lamina's code for the
    failure, e.g. 3 when a container is not found, where Docker always exits 1).
    """
    each(containers, lambda ref: lifecycle.rm(c.store, [ref], force=force))


CONTAINER_VERBS = {
    **{"ls": "ps", "ps": "ps", "list": "ps", "rm": "rm", "create": "create", "run": "run"},
    **{"cp": "cp", "commit": "commit", "export": "export"},
}


@cli.group(cls=VerbGroup, aliases=CONTAINER_VERBS, context_settings=CONTEXT)
def container() -> None:
    """Manage containers: Docker's `container` sub-verbs (`container ls` is `ps`)."""


container.add_command(inspect_command("container"), "inspect")


@container.command("prune", context_settings=CONTEXT)
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@filter_option("until=24h, label=K[=V], label!=K[=V]", short=False)
@pass_ctx
def container_prune(c: Ctx, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all containers that are not running.

    \b
    Examples:
      lamina container prune -f --filter until=1h
      lamina container prune --filter label!=keep
    """
    ids: list[str] = []
    freed = 0
    if force or confirm("WARNING! This will remove all stopped containers."):
        ids, freed = lifecycle.container_prune(c.store, filters=filters)
    if ids:
        click.echo("Deleted Containers:")
        for ident in ids:
            click.echo(ident)
        click.echo("")
    click.echo(f"Total reclaimed space: {humanize.size(freed, 4)}")


@cli.command(context_settings=CONTEXT)
@click.option("-m", "--message", default="", help="Commit message (the history comment).")
@click.option("-a", "--author", default="", help='Author, e.g. "Jane Doe <jane@example.com>".')
@click.option("-c", "--change", "changes", multiple=True, metavar="INSTRUCTION", help=CHANGE_HELP)
@click.argument("container_ref", metavar="CONTAINER")
@click.argument("name", required=False, metavar="[REPOSITORY[:TAG]]")
@json_option
@pass_ctx
def commit(
    c: Ctx,
    message: str,
    author: str,
    changes: tuple[str, ...],
    container_ref: str,
    name: str | None,
    as_json: bool,
) -> None:
    """Create a new image from a container's changes (one new layer).

    Added, changed and deleted files since the container was created become
    one layer with whiteouts, on top of the container's image. Prints the
    new image ID.
    """
    made = lifecycle.commit(
        c.store, container_ref, name, message=message, author=author, changes=changes
    )
    _made(made, name, as_json)


def _made(image_id: str, name: str | None, as_json: bool) -> None:
    """The new image's ID, or with --json {"Id": ..., "Tag": NAME or null}."""
    if as_json:
        emit_json({"Id": image_id, "Tag": reference.parse(name).familiar if name else None})
    else:
        click.echo(image_id)


@cli.command(context_settings=CONTEXT)
@click.option("-o", "--output", metavar="FILE", help="Write here (default: stdout).")
@click.argument("container_ref", metavar="CONTAINER")
@pass_ctx
def export(c: Ctx, output: str | None, container_ref: str) -> None:
    """Export a container's filesystem as a tar archive."""
    if output is None and sys.stdout.isatty():
        raise UsageError("refusing to write a tar to a terminal", "use -o FILE or a pipe")
    with c.progress() as progress:
        lifecycle.export(c.store, container_ref, output if output else sys.stdout.buffer, progress)


@cli.command("import", context_settings=CONTEXT)
@click.option("-m", "--message", default="", help='History comment (default "Imported from -").')
@click.option("-c", "--change", "changes", multiple=True, metavar="INSTRUCTION", help=CHANGE_HELP)
@click.argument("source", metavar="FILE|-")
@click.argument("name", required=False, metavar="[REPOSITORY[:TAG]]")
@json_option
@pass_ctx
def import_(
    c: Ctx, message: str, changes: tuple[str, ...], source: str, name: str | None, as_json: bool
) -> None:
    """Import a tar (plain, gzip or zstd) as a one-layer image; prints its ID.

    The image's history starts afresh, as with `docker import`: use `load`
    to keep a stack of layers and its history.
    """
    with c.progress() as progress:
        made = lifecycle.import_tar(
            c.store, source, name, message=message, changes=changes, progress=progress
        )
    _made(made, name, as_json)
