"""Squash, flatten and rebase images that live in a Docker Engine.

The same rules and defaults as the store's verbs (api/squash.py), applied to a
throwaway store that holds the image and the daemon's tagged images it is built on
(its base candidates: their layers are a prefix of its layers; exporting them with
it adds only their configs, the layers are shared), so "the base" is the oldest
tagged ancestor present in the daemon, or the one the image's labels name, or
--base / --layers. The result goes back with api/docker.deliver: only the new
layer and the config cross, since the daemon holds the layers below it.

The new image is tagged -t NAME, else with the name the image was given by (as
`squash -i ARCHIVE` does: the old image keeps its layers and becomes untagged),
else left untagged and reported by ID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lamina import reference
from lamina.api.analyze import Report as AnalyzeReport
from lamina.api.analyze import analyze as analyze_store
from lamina.api.docker import DockerSent, daemon_name, deliver, staged
from lamina.api.save import images_for
from lamina.api.squash import Reshaped
from lamina.api.squash import rebase as rebase_store
from lamina.api.squash import squash as squash_store
from lamina.ops.squash import LayerSpec
from lamina.progress import Progress
from lamina.store.local import Store
from lamina.transports.docker_engine.client import Engine
from lamina.transports.docker_engine.images import DaemonImage, find


@dataclass(frozen=True)
class ReshapedInDocker:
    result: Reshaped
    sent: DockerSent


def _default_tag(name: str, target: DaemonImage, tag: str | None) -> str | None:
    if tag is not None:
        return tag or None
    ref = reference.try_parse(name)
    if ref is not None and any(reference.parse(t).familiar == ref.familiar for t in target.tags):
        return ref.familiar
    return None


def _in_docker(
    ref: str,
    host: str | None,
    also: list[str],
    tag: str | None,
    work: Callable[[Store, str | None], Reshaped],
    progress: Progress | None,
) -> ReshapedInDocker:
    name = daemon_name(ref)
    with Engine.connect(host) as engine:
        target = find(engine, name)
        with staged(engine, [name, *also]) as store:
            result = work(store, _default_tag(name, target, tag))
            images = images_for(store, [result.name or result.id])
            sent = deliver(engine, images, progress=progress)
    return ReshapedInDocker(result, sent)


def squash(
    ref: str,
    *,
    host: str | None = None,
    base: str | None = None,
    layers: LayerSpec | None = None,
    tag: str | None = None,
    message: str = "",
    progress: Progress | None = None,
) -> ReshapedInDocker:
    """`lamina squash` of a daemon image, loaded back into that daemon."""
    also = [daemon_name(base)] if base else []

    def work(store: Store, name: str | None) -> Reshaped:
        return squash_store(
            store,
            daemon_name(ref),
            base=daemon_name(base) if base else None,
            layers=layers,
            tag=name,
            message=message,
        )

    return _in_docker(ref, host, also, tag, work, progress)


def flatten(
    ref: str,
    *,
    host: str | None = None,
    tag: str | None = None,
    message: str = "",
    progress: Progress | None = None,
) -> ReshapedInDocker:
    return squash(
        ref, host=host, layers="0..-1", tag=tag, message=message or "flattened", progress=progress
    )


def rebase(
    ref: str,
    onto: str,
    *,
    host: str | None = None,
    base: str | None = None,
    tag: str | None = None,
    progress: Progress | None = None,
) -> ReshapedInDocker:
    """`lamina rebase` of a daemon image onto another daemon image."""
    also = [daemon_name(onto), *([daemon_name(base)] if base else [])]

    def work(store: Store, name: str | None) -> Reshaped:
        old = daemon_name(base) if base else None
        return rebase_store(store, daemon_name(ref), daemon_name(onto), base=old, tag=name)

    return _in_docker(ref, host, also, tag, work, progress)


def analyze(
    ref: str, *, host: str | None = None, layer: int | None = None, top: int = 10, advise: int = 3
) -> AnalyzeReport:
    """`lamina analyze` of a daemon image: read with its tagged ancestors (so the base is
    found as in the store), analysed there; the advice names the daemon image."""
    name = daemon_name(ref)
    with Engine.connect(host) as engine, staged(engine, [name]) as store:
        return analyze_store(store, name, layer=layer, top=top, advise=advise, shown_as=ref)
