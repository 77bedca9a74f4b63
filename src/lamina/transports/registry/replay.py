"""Push a manifest exactly as it was received, so its digest (and signatures) stay valid.

The store keeps layers uncompressed, and compressing them again gives the same
bytes only when lamina compressed them the first time, so the manifest received
on pull is pushed again as it is when every compressed blob it names is already
in the target repository, or can be mounted there from a repository of the same
registry that holds it. That is checked for every layer (a few at once) before
anything but mounts is written; the config is uploaded if missing (its bytes are
kept exactly). When a layer is out of reach the caller gets the reason and
pushes a new manifest instead (which, for a lamina-compressed image, is often the
very same manifest: api/push.py then says nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from lamina import digest, mediatype
from lamina.errors import LaminaError
from lamina.spec import Descriptor, Manifest
from lamina.transports.registry.push import Pusher, PushResult, SentBlob

if TYPE_CHECKING:
    from lamina.transports.registry.repo import Repository

# compressed digest -> repositories of this registry that may hold it
Sources = Callable[[str], Sequence[str]]


def push_received(
    pusher: Pusher,
    raw: bytes,
    media_type: str,
    config_raw: bytes,
    diff_ids: Sequence[str],
    sources: Sources,
    tag: str,
) -> PushResult | str:
    """Push `raw` unchanged under `tag`; else the reason it cannot be (nothing written then)."""
    repo = pusher.repo
    try:
        manifest = Manifest.parse(raw, media_type)
    except LaminaError as exc:
        return f"the kept manifest does not parse ({exc})"
    if manifest.config.digest != digest.of_bytes(config_raw):
        return "the kept manifest names another config"
    if len(manifest.layers) != len(diff_ids):
        return "the kept manifest lists another number of layers"
    todo = {d.digest: (d, diff_id) for d, diff_id in zip(manifest.layers, diff_ids, strict=True)}
    with ThreadPoolExecutor(max(1, pusher.options.workers), thread_name_prefix="reach") as pool:
        found = pool.map(
            lambda job: _reach(repo, job[0], job[1], sources(job[0].digest)), todo.values()
        )
        reached = dict(zip(todo, found, strict=True))  # HEADs and mounts, a few at once
    layers: dict[str, SentBlob] = {}
    for dig, sent in reached.items():
        if sent is None:
            return (
                f"layer {digest.short(dig, algorithm=True)} of the received manifest "
                f"is not in {repo.session.host}/{repo.name} and cannot be mounted there"
            )
        layers[dig] = sent
    config = pusher.push_config(manifest.config.digest, config_raw, manifest.config.media_type)
    mdig = repo.put_manifest(tag, raw, manifest.media_type)
    return PushResult(
        repo.name,
        tag,
        mdig,
        len(raw),
        manifest.media_type,
        config,
        tuple(layers[d.digest] for d in manifest.layers),
        raw,
    )


def _reach(
    repo: Repository, desc: Descriptor, diff_id: str, sources: Sequence[str]
) -> SentBlob | None:
    """The blob in the target repository: there already, or mounted; None if neither."""
    kind = mediatype.layer_compression(desc.media_type)

    def sent(how: str, source: str = "") -> SentBlob:
        return SentBlob(diff_id, kind, desc.digest, desc.size, desc.media_type, how, source)

    if repo.has_blob(desc.digest):
        return sent("exists")
    for source in sources:
        if source != repo.name and repo.mount(desc.digest, source) is None:
            return sent("mounted", source)
    return None
