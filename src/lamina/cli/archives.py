"""Commands that move images in and out of the store as archives: load, save."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click

from lamina.api.images import load as load_images
from lamina.api.save import SAVE_FORMATS
from lamina.api.save import save as save_images
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.cli.delta import delta_options, is_delta, save_delta
from lamina.errors import UsageError
from lamina.spec import Platform
from lamina.transports.docker_engine import is_daemon_ref


@contextmanager
def _reading(
    c: Ctx, refs: Sequence[str], also: Sequence[str]
) -> Iterator[tuple[list[str], tuple[str, ...]]]:
    """cli.docker.reading, whose Docker Engine client is imported only for daemon images."""
    if not any(is_daemon_ref(r) for r in refs):
        yield list(refs), tuple(also)
        return
    from lamina.cli import docker as docker_cli

    with docker_cli.reading(c, refs, also) as found:
        yield found


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

    Names: RepoTags of a docker-archive; in an OCI layout io.containerd.image.name,
    else org.opencontainers.image.ref.name. A short ref.name (no `/`, as skopeo's
    oci:DIR:NAME and umoci write it) is named as `podman load` names it:
    localhost/NAME, :latest when untagged (umoci's `1` -> localhost/1:latest).

    \b
    Examples:
      lamina load -i app.tar
      lamina load docker-daemon:local/app:3 docker-daemon:debian:bookworm
      lamina --docker-host ssh://bob@host load docker-daemon:app:2
    """
    if daemon_images and (source is not None or platform is not None):
        raise UsageError("load reads either docker-daemon:NAME images or -i FILE")
    if not daemon_images and source in (None, "-") and sys.stdin.isatty():
        # Docker's words; waiting for a tar typed on a terminal helps nobody
        raise UsageError("requested load from stdin, but stdin is empty", "use -i FILE or a pipe")
    plat = Platform.parse(platform) if platform else None
    with c.progress() as progress:
        if daemon_images:
            from lamina.cli import docker as docker_cli  # (the Engine's client: only now)

            results = docker_cli.load(c, daemon_images, progress)
        else:
            results = load_images(c.store, source, platform=plat, progress=progress)
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
    type=click.Choice(SAVE_FORMATS),
    default="docker-archive",
    show_default=True,
    help="docker-archive also holds an OCI layout; oci-dir needs -o DIR.",
)
@click.option(
    "--with-referrers",
    is_flag=True,
    help="Add the signatures, attestations and SBOMs pulled with the images "
    "(pull --with-referrers) to the OCI layout, byte-exact: cosign tags keep their "
    "sha256-HEX.sig names, OCI referrers are listed untagged (as oras does). "
    "Needs --format oci-archive or oci-dir.",
)
@delta_options
@json_option
@pass_ctx
def save(
    c: Ctx,
    images: tuple[str, ...],
    output: str | None,
    fmt: str,
    with_referrers: bool,
    exclude: tuple[str, ...],
    exclude_base: bool,
    have: str | None,
    no_patches: bool,
    as_json: bool,
) -> None:
    """Save images to one archive that docker, podman and skopeo all load.

    Several images share their common layers once. Output is deterministic:
    the same images always give the same bytes.

    With --exclude, --exclude-base or --have it writes a delta: every layer is
    listed but only those the recipient lacks are carried (what was left out is
    reported on stderr, or as JSON with --json). `docker load` and `lamina load`
    take it where the rest is present; `lamina expand` makes it whole for podman.
    With --exclude, or --have of a lamina store's inventory (not a Docker Engine's), a
    layer the recipient lacks travels as a patch against the most similar layer it
    has (the older version's) where that is smaller; such
    an archive needs `lamina load` or `lamina expand` (plain `docker load` refuses it
    at once, nothing loaded; stderr says so). --no-patches: whole layers only.
    IMAGE may be docker-daemon:NAME: saved from a Docker Engine, delta options too.

    \b
    Examples:
      lamina save -o app.tar app:1
      lamina save --format oci-archive --with-referrers -o app.oci.tar localhost:5000/app:1
    """
    if output is None and sys.stdout.isatty():
        raise UsageError("refusing to write an archive to a terminal", "use -o FILE or a pipe")
    with _reading(c, images, exclude) as (refs, exclude):
        if is_delta(exclude, exclude_base, have):
            if with_referrers:
                raise UsageError("a delta archive carries no referrers", "drop --with-referrers")
            save_delta(
                c,
                refs,
                output,
                fmt,
                exclude=exclude,
                exclude_base=exclude_base,
                have=have,
                no_patches=no_patches,
                as_json=as_json,
            )
            return
        with c.progress() as progress:
            save_images(
                c.store,
                refs,
                output if output else sys.stdout.buffer,
                fmt=fmt,
                progress=progress,
                with_referrers=with_referrers,
            )
