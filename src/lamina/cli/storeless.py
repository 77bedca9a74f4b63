"""Registry commands that need no store, as crane names them: ls, digest, manifest,
config, copy. They never open or create the store (`--store` is ignored)."""

from __future__ import annotations

import sys

import click

from lamina import api
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.cli.registry import tls_option
from lamina.progress import Progress

PLATFORM_HELP = "From a multi-platform index, that platform's manifest (arm64, linux/arm/v7)."


def platform_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option("--platform", metavar="[OS/]ARCH[/VARIANT]", help=PLATFORM_HELP)(f)


@cli.command("ls", context_settings=CONTEXT)
@click.argument("repository", metavar="REGISTRY/REPO")
@click.option("--page-size", type=int, metavar="N", help="Ask the registry for N tags a page.")
@tls_option
@json_option
def ls_tags(repository: str, page_size: int | None, tls_verify: bool, as_json: bool) -> None:
    """List the tags of a repository in a registry (crane ls), every page of them.

    This lists a registry, not the store: the store's images are `lamina images`.
    """
    tags = api.storeless.list_tags(repository, page_size=page_size, tls_verify=tls_verify)
    if as_json:
        emit_json(tags)
        return
    for tag in tags:
        click.echo(tag)


@cli.command(context_settings=CONTEXT)
@click.argument("ref", metavar="REGISTRY/REPO[:TAG|@DIGEST]")
@platform_option
@tls_option
def digest(ref: str, platform: str | None, tls_verify: bool) -> None:
    """Print the digest the registry serves REF under (skopeo inspect's Digest).

    A multi-platform image gives its index's digest; --platform that platform's manifest's.
    """
    click.echo(api.storeless.remote_digest(ref, platform=platform, tls_verify=tls_verify))


@cli.command(context_settings=CONTEXT)
@click.argument("ref", metavar="REGISTRY/REPO[:TAG|@DIGEST]")
@platform_option
@tls_option
def manifest(ref: str, platform: str | None, tls_verify: bool) -> None:
    """Print REF's manifest (or index) byte for byte as the registry serves it."""
    raw = api.storeless.remote_manifest(ref, platform=platform, tls_verify=tls_verify)
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()


@cli.command(context_settings=CONTEXT)
@click.argument("ref", metavar="REGISTRY/REPO[:TAG|@DIGEST]")
@click.option("--platform", metavar="[OS/]ARCH[/VARIANT]", help="Default: this host's.")
@tls_option
def config(ref: str, platform: str | None, tls_verify: bool) -> None:
    """Print the config blob of REF's image, checked against its digest (skopeo inspect
    --config --raw)."""
    raw = api.storeless.remote_config(ref, platform=platform, tls_verify=tls_verify)
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()


@cli.command(context_settings=CONTEXT)
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@click.option(
    "--platform",
    metavar="[OS/]ARCH[/VARIANT]",
    help="Copy only this platform's image of a multi-platform index.",
)
@click.option(
    "-a",
    "--all",
    "all_platforms",
    is_flag=True,
    help="Copy a whole index (the default between registries, as crane does).",
)
@tls_option
@click.option("-q", "--quiet", "local_quiet", is_flag=True, help="No progress.")
@json_option
@pass_ctx
def copy(
    c: Ctx,
    source: str,
    target: str,
    platform: str | None,
    all_platforms: bool,
    tls_verify: bool,
    local_quiet: bool,
    as_json: bool,
) -> None:
    """Copy an image between registries and archives, without the store.

    SRC and DST are REGISTRY/REPO[:TAG] (or docker://...), docker-archive:FILE[:NAME],
    oci-archive:FILE[:NAME] or oci:DIR[:NAME]. Between registries the manifests stay
    byte for byte (same digests): blobs are mounted within one registry, else streamed
    GET to PUT. A multi-platform index is copied whole, as crane copies it (skopeo wants
    --all for that); --platform copies one platform. An archive holds one image: from
    an index this host's platform, or --platform.

    \b
    Examples:
      lamina copy localhost:5000/app:1 localhost:5000/mirror/app:1
      lamina copy registry.example.com/app:1 docker-archive:app.tar:app:1
      lamina copy oci-archive:app.tar localhost:5000/app:1
    """
    if all_platforms and platform:
        raise click.UsageError("--all and --platform exclude each other")
    if all_platforms and "docker-archive" in (source.split(":", 1)[0], target.split(":", 1)[0]):
        raise click.UsageError("a docker-archive holds one image: copy a whole index to oci:DIR")
    quiet = c.quiet or local_quiet or as_json
    with Progress.for_terminal(quiet) as progress:
        done = api.copying.copy(
            source,
            target,
            platform=platform,
            tls_verify=tls_verify,
            progress=progress,
        )
    if as_json:
        emit_json(
            {
                "Source": done.source,
                "Destination": done.destination,
                "Digest": done.digest,
                "Id": done.image_id,
                "Blobs": {"Copied": done.copied, "Mounted": done.mounted, "Existed": done.existed},
            }
        )
        return
    click.echo(f"Copied {done.source} to {done.destination}", err=True)
    click.echo(done.digest)
