"""Commands that talk to registries: push, pull, login, logout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lamina import api, digest
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.errors import UsageError
from lamina.progress import Progress
from lamina.spec import Platform

HOW = {"pushed": "Pushed", "exists": "Layer already exists", "mounted": "Mounted from"}


def tls_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--tls-verify",
        type=click.BOOL,
        default=True,
        show_default=True,
        metavar="BOOL",
        help="Require HTTPS with a valid certificate (loopback registries may use HTTP anyway).",
    )(f)


def referrers_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--with-referrers",
        is_flag=True,
        help="Carry the image's signatures, attestations and SBOMs too, byte-exact: OCI "
        "referrers (manifests with a subject) and cosign's sha256-HEX.sig/.att/.sbom tags.",
    )(f)


def quiet_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "-q", "--quiet", "local_quiet", is_flag=True, help="No progress, only the result."
    )(f)


@cli.command(context_settings=CONTEXT)
@click.argument("image")
@click.argument("target", required=False, metavar="[REGISTRY/REPO[:TAG]]")
@click.option(
    "--compress",
    type=click.Choice(api.registry.COMPRESSIONS),
    help="How layers travel (remembered, so a second push only costs a HEAD). "
    "Default: as pulled (the very manifest, when the registry has its blobs), else gzip.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(api.registry.MANIFEST_FORMATS),
    help="Manifest kind: OCI, or Docker v2 schema 2 (gzip or none only). Default: as pulled, "
    "else oci.",
)
@click.option(
    "--digestfile",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the pushed manifest's digest to this file (as podman does).",
)
@referrers_option
@tls_option
@quiet_option
@json_option
@pass_ctx
def push(
    c: Ctx,
    image: str,
    target: str | None,
    compress: str | None,
    fmt: str | None,
    digestfile: str | None,
    with_referrers: bool,
    tls_verify: bool,
    local_quiet: bool,
    as_json: bool,
) -> None:
    """Push IMAGE to a registry, as TARGET if given (else IMAGE must name one).

    An image pulled from a multi-platform index goes back as that very index when
    every platform it names is in the target or on the same registry; else as its
    platform manifest, and a note says why.

    With --with-referrers, the signatures and attestations pulled with the image
    (pull --with-referrers) go too, unchanged, when the manifest they sign is
    pushed unchanged.

    \b
    Examples:
      lamina push localhost:5000/app:1
      lamina push local/app:1 registry.example.com/team/app:1 --compress zstd
      lamina push --with-referrers localhost:5000/app:1 localhost:5000/mirror/app:1
    """
    quiet = c.quiet or local_quiet or as_json
    with Progress.for_terminal(quiet) as progress:
        pushed = api.registry.push(
            c.store,
            image,
            target,
            compression=compress,
            manifest_format=fmt,
            tls_verify=tls_verify,
            progress=progress,
            with_referrers=with_referrers,
        )
    ref = api.registry.parse_remote(pushed.reference)
    if digestfile:
        Path(digestfile).write_text(pushed.digest)
    if pushed.note:
        click.echo(f"note: pushed a new manifest: {pushed.note}", err=True)
    if pushed.index_note:
        note = f"pushed the platform manifest, not the index it came in: {pushed.index_note}"
        click.echo(f"note: {note}", err=True)
    if pushed.referrers_left:
        click.echo(
            f"note: {pushed.referrers_left} referrer(s) left out: they refer to a manifest "
            "that could not be pushed unchanged",
            err=True,
        )
    if as_json:
        doc = {"Reference": ref.familiar, "Digest": pushed.digest, "Size": pushed.size}
        doc["RepoDigest"] = f"{ref.familiar_repository}@{pushed.digest}"
        emit_json({**doc, "Referrers": pushed.referrers} if with_referrers else doc)
        return
    if not quiet:
        click.echo(f"The push refers to repository [{ref.familiar_repository}]")
        for layer in reversed(pushed.layers):
            how = HOW[layer.how] + (f" {layer.source}" if layer.source else "")
            click.echo(f"{digest.short(layer.uncompressed)}: {how}")
    click.echo(f"{ref.tag}: digest: {pushed.digest} size: {pushed.size}")


@cli.command(context_settings=CONTEXT)
@click.argument("ref", metavar="REGISTRY/REPO[:TAG|@DIGEST]")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="For multi-platform images.")
@referrers_option
@tls_option
@quiet_option
@json_option
@pass_ctx
def pull(
    c: Ctx,
    ref: str,
    platform: str | None,
    with_referrers: bool,
    tls_verify: bool,
    local_quiet: bool,
    as_json: bool,
) -> None:
    """Pull an image from a registry into the store, tagged as pulled.

    Layers the store already has are not downloaded. A failed pull leaves the
    store as it was. With --with-referrers, the artifacts that refer to the image
    (or to its index) are kept beside it: `inspect` lists them as Referrers,
    `push --with-referrers` and `save --with-referrers` carry them.

    \b
    Examples:
      lamina pull localhost:5000/app:1
      lamina pull --platform arm64 --with-referrers localhost:5000/app:1
    """
    quiet = c.quiet or local_quiet or as_json
    plat = Platform.parse(platform) if platform else None
    with Progress.for_terminal(quiet) as progress:
        pulled = api.registry.pull(
            c.store,
            ref,
            platform=plat,
            tls_verify=tls_verify,
            progress=progress,
            with_referrers=with_referrers,
        )
    if as_json:
        emit_json(
            {
                "Reference": pulled.reference,
                "Tag": pulled.name or None,
                "Id": pulled.id,
                "Digest": pulled.digest,
                "NewLayers": pulled.new_layers,
                "UpToDate": pulled.up_to_date,
                "Replaced": pulled.replaced or None,
            }
        )
        return
    if not quiet:
        click.echo(f"Digest: {pulled.digest}")
        if with_referrers:
            click.echo(f"Referrers: {pulled.referrers}")
        if pulled.up_to_date:
            status = f"Image is up to date for {pulled.reference}"
        elif pulled.replaced:
            status = f"Downloaded newer image for {pulled.reference}"
        else:
            status = f"Downloaded image for {pulled.reference}"
        click.echo(f"Status: {status}")
    click.echo(pulled.reference)


@cli.command(context_settings=CONTEXT)
@click.argument("registry", required=False)
@click.option("-u", "--username", help="User name (prompted for when missing).")
@click.option("-p", "--password", help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@tls_option
def login(
    registry: str | None,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    tls_verify: bool,
) -> None:
    """Check a user and password against REGISTRY and save them where Docker does.

    The file is $DOCKER_CONFIG/config.json, else ~/.docker/config.json (mode 0600);
    without REGISTRY, Docker Hub.
    """
    if password_stdin:
        if password:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().rstrip("\r\n")
    if not username:
        username = click.prompt("Username")
    if not password:
        if not sys.stdin.isatty():
            raise UsageError("no password given", "use --password-stdin or -p")
        password = click.prompt("Password", hide_input=True)
    where = api.registry.login(registry, username or "", password or "", tls_verify=tls_verify)
    click.echo(f"Credentials saved in {where}", err=True)
    click.echo("Login Succeeded")


@cli.command(context_settings=CONTEXT)
@click.argument("registry", required=False)
def logout(registry: str | None) -> None:
    """Forget the saved credentials of REGISTRY (default Docker Hub)."""
    host = registry or "docker.io"
    if api.registry.logout(registry):
        click.echo(f"Removing login credentials for {host}")
    else:
        click.echo(f"Not logged in to {host}")
