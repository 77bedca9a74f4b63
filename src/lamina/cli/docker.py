"""The Docker Engine side of load, save, send, inventory, squash, flatten and rebase.

The commands themselves live with their store versions; an image written
`docker-daemon:NAME` (or `send --to-docker`, `inventory --docker`) routes here.
The daemon is `lamina --docker-host HOST`, else DOCKER_HOST, else the docker
CLI's current context, else /var/run/docker.sock.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from lamina import atomic, humanize
from lamina.api import docker, docker_reshape, transfer
from lamina.api.images import Loaded
from lamina.api.save import Saved, images_for
from lamina.cli.app import Ctx
from lamina.cli.delta_view import saved_json, summary
from lamina.errors import LaminaError, UsageError
from lamina.progress import Progress
from lamina.store.local import Store
from lamina.transports.docker_engine.client import Engine


@contextmanager
def source(
    c: Ctx, refs: Sequence[str], also: Sequence[str] = ()
) -> Iterator[tuple[Store, list[str]]]:
    """The store and refs to read: the user's store, or a throwaway one filled from Docker.

    `also` (e.g. save --exclude) are staged too when the refs are daemon images.
    """
    store_refs, names = docker.split_refs(refs)
    if not names:
        yield c.store, store_refs
        return
    extra = [docker.daemon_name(x) for x in also]
    with (
        Engine.connect(c.docker_host) as engine,
        docker.staged(engine, [*names, *extra]) as staging,
    ):
        yield staging, names


def load(c: Ctx, names: Sequence[str], progress: Progress) -> list[Loaded]:
    return docker.load_from_docker(c.store, names, host=c.docker_host, progress=progress)


@contextmanager
def reading(
    c: Ctx, refs: Sequence[str], also: Sequence[str] = ()
) -> Iterator[tuple[list[str], tuple[str, ...]]]:
    """`refs` and `also` to work on; daemon images are staged in a store `c` then uses."""
    if not any(docker.is_daemon_ref(r) for r in refs):
        yield list(refs), tuple(also)
        return
    with source(c, refs, also) as (store, names):
        c.use_store(store)
        yield names, tuple(docker.daemon_name(x) for x in also)


def inventory(c: Ctx, output: str | None) -> None:
    data = docker.inventory(c.docker_host).to_json()
    if output is None:
        sys.stdout.buffer.write(data)
        return
    with atomic.output(output) as f:
        f.write(data)


def send_to_docker(
    c: Ctx, refs: Sequence[str], host: str | None, as_json: bool, full: bool = False
) -> None:
    """`send IMAGE... --to-docker [HOST]`, from the store or from another daemon."""
    if host is not None and "://" not in host:
        raise UsageError(
            f"--to-docker {host!r} is not a Docker host",
            "give unix://PATH, tcp://HOST:PORT or ssh://USER@HOST, or put --to-docker last",
        )
    target = host or c.docker_host
    with (
        c.progress() as progress,
        source(c, refs) as (store, names),
        Engine.connect(target) as engine,
    ):
        sent = docker.deliver(engine, images_for(store, names), full=full, progress=progress)
    report_sent(sent, as_json)


def report_sent(sent: docker.DockerSent, as_json: bool, err: bool = False) -> None:
    if as_json:
        doc = saved_json(Saved(sent.images, sent.plan, sent.archive_bytes, ()))
        doc.update(
            Target=sent.target,
            ImageStore=sent.store_kind,
            FullArchive=sent.full,
            AlreadyThere=list(sent.tagged),
            WireSent=sent.wire_sent,
            WireReceived=sent.wire_received,
            Daemon=list(sent.lines),
        )
        click.echo(json.dumps(doc, indent=2), err=err)
        return
    if sent.store_kind == docker.CONTAINERD and sent.plan.omitted:
        click.echo(
            "note: containerd image store: the delta went with an OCI layout, which it "
            "needs; `docker save` of the result needs the base's layers as content",
            err=True,
        )
    if len(sent.tagged) < len(sent.images):
        for line in summary(sent.plan, sent.archive_bytes):
            click.echo(line, err=err)
    for image_id in sent.tagged:
        click.echo(f"Already there: {image_id[7:19]} (named, no layers sent)", err=err)
    for line in sent.lines:
        click.echo(line, err=err)
    click.echo(
        f"Sent {humanize.size(sent.wire_sent)} to the Docker Engine at {sent.target} "
        f"({sent.store_kind} image store)",
        err=err,
    )


def send_from_docker(
    c: Ctx, refs: Sequence[str], command: str, progress: Progress, patches: bool = True
) -> transfer.Sent:
    """`send docker-daemon:NAME --to COMMAND`: daemon images to a lamina store elsewhere
    (patches only against layers the temporary store holds: the images' own)."""
    with source(c, refs) as (store, names):
        return transfer.send(store, names, command, patches=patches, progress=progress)


def reshape(c: Ctx, verb: str, image: str, **kwargs: Any) -> docker_reshape.ReshapedInDocker:
    """squash / flatten / rebase of a daemon image, loaded back into the daemon."""
    verbs: dict[str, Callable[..., docker_reshape.ReshapedInDocker]] = {
        "rebase": docker_reshape.rebase,
        "flatten": docker_reshape.flatten,
        "squash": docker_reshape.squash,
    }
    with c.progress() as progress:
        done: docker_reshape.ReshapedInDocker = verbs[verb](
            image, host=c.docker_host, progress=progress, **kwargs
        )
    return done


def reachable() -> str | None:
    """The Docker Engine `lamina demo` can use (its address), or None."""
    try:
        with Engine.connect() as engine:
            return engine.label
    except LaminaError:
        return None


def clean_up(names: Sequence[str]) -> None:
    """Remove these images from the Docker Engine, quietly (the demo's own)."""
    try:
        with Engine.connect() as engine:
            for name in names:
                with contextlib.suppress(LaminaError):
                    engine.remove(name)
    except LaminaError:
        pass
