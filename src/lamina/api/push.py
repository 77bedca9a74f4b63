"""push: an image from the store to a registry, as the very manifest it came as when possible.

Without `--compress`/`--format`, an image lamina pulled (or pushed) before is
pushed as the manifest it was received as, so its digest and the signatures
made for it stay valid; that needs every compressed blob the manifest names to
be in the target repository or mountable there (transports/registry/replay.py).
When one is not, a new manifest is made as with `--compress gzip`, and
`Pushed.note` says why. The blob memory (store/blobinfo.py) says what each
layer became last time and where it was seen; the origins record
(store/origins.py) gets the digest pushed, for `RepoDigests`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from lamina.api.lookup import get_image
from lamina.api.remote import open_repository, parse_remote
from lamina.errors import UsageError
from lamina.progress import Progress
from lamina.reference import Reference
from lamina.store.blobinfo import BlobInfo, Known, Sighting
from lamina.store.local import Store, StoredImage
from lamina.store.origins import Origin, Origins
from lamina.transports.registry import auth
from lamina.transports.registry import push as sender
from lamina.transports.registry.push import PushResult, SentBlob
from lamina.transports.registry.replay import push_received

COMPRESSIONS = sender.COMPRESSIONS
MANIFEST_FORMATS = ("oci", "v2s2")


@dataclass(frozen=True)
class Pushed:
    """What `push` did: the registry's manifest digest and size, and each layer's fate."""

    reference: str  # the familiar name pushed to
    result: PushResult
    note: str = ""  # why the received manifest could not be pushed as it was, if it could not

    @property
    def digest(self) -> str:
        return self.result.manifest_digest

    @property
    def size(self) -> int:
        return self.result.manifest_size

    @property
    def layers(self) -> tuple[SentBlob, ...]:
        return self.result.layers


def push(
    store: Store,
    source: str,
    target: str | None = None,
    *,
    compression: str | None = None,
    manifest_format: str | None = None,
    tls_verify: bool = True,
    progress: Progress | None = None,
    chunk_size: int = sender.CHUNK_SIZE,
    docker_config: Path | None = None,
) -> Pushed:
    """Push image `source` to `target` (default: `source` itself, a registry reference).

    `compression`/`manifest_format` None: the received manifest if it can go as it
    is, else gzip layers in an OCI manifest.
    """
    if compression is not None and compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r}", "use gzip, zstd or none")
    if manifest_format is not None and manifest_format not in MANIFEST_FORMATS:
        raise UsageError(f"unknown manifest format {manifest_format!r}", "use oci or v2s2")
    ref = parse_remote(target or source)
    if ref.digest:
        raise UsageError(f"cannot push to a digest reference {ref.familiar}", "give a tag")
    stored = get_image(store, source)
    image = stored.image
    options = sender.Options(
        compression="" if compression == "none" else compression or "gzip",
        docker_format=manifest_format == "v2s2",
        chunk_size=chunk_size,
    )
    memory, origins = BlobInfo(store), Origins(store)
    as_received = compression is None and manifest_format is None
    kept = _received(origins, stored, ref) if as_received else []
    sources = _sources(memory, image.diff_ids, kept, ref)
    scopes = [auth.scope(ref.path, "pull,push"), *_mount_scopes(sources, ref)]
    scratch = store.scratch_dir()
    note = ""
    try:
        with open_repository(ref, sorted(set(scopes)), tls_verify, docker_config) as repo:

            def lookup(uncompressed: str, kind: str) -> list[Known]:
                return memory.lookup(uncompressed, kind, ref.domain)

            pusher = sender.Pusher(repo, lookup, scratch, options, progress or Progress.null())
            result: PushResult | str = "the image was never received from a registry"
            if kept:
                raw = origins.manifest(kept[0].manifest) or b""
                result = push_received(
                    pusher,
                    raw,
                    kept[0].media_type,
                    image.config.raw,
                    image.diff_ids,
                    lambda dig: (*sources[""], *sources.get(dig, ())),
                    ref.tag,
                )
                note = result if isinstance(result, str) else ""
            if isinstance(result, str):
                result = pusher.push(image, ref.tag)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    memory.remember(_sightings(result, ref))
    mdig = result.manifest_digest
    origins.remember(
        image.id, Origin(ref.repository, mdig, mdig, result.media_type), {mdig: result.raw}
    )
    return Pushed(ref.familiar, result, note)


def _received(origins: Origins, stored: StoredImage, ref: Reference) -> list[Origin]:
    """The newest origin whose manifest is kept, one on the target's registry first."""
    found = [o for o in origins.of(stored.id) if origins.manifest(o.manifest) is not None]
    found.sort(key=lambda o: parse_remote(o.repository).domain != ref.domain)
    return found[:1]


def _sources(
    memory: BlobInfo, diff_ids: tuple[str, ...], kept: list[Origin], ref: Reference
) -> dict[str, tuple[str, ...]]:
    """Compressed digest -> repositories of the target registry that may hold it.

    The repository the kept manifest came from holds all its blobs (even when the
    blob memory was lost): it is asked first, under the key "" for any digest.
    """
    found: dict[str, list[str]] = {"": []}
    for origin in kept:
        home = parse_remote(origin.repository)
        found[""] += [home.path] if home.domain == ref.domain else []
    for diff_id in diff_ids:
        for kind in ("gzip", "zstd", ""):
            for known in memory.lookup(diff_id, kind, ref.domain):
                found.setdefault(known.digest, []).extend(known.repos_on(ref.domain)[:2])
    return {
        dig: tuple(r for r in dict.fromkeys(repos) if r != ref.path) for dig, repos in found.items()
    }


def _mount_scopes(sources: dict[str, tuple[str, ...]], ref: Reference) -> list[str]:
    """Pull scopes for the repositories we may mount from (a token must cover them)."""
    repos = {r for found in sources.values() for r in found}
    return [auth.scope(r, "pull") for r in sorted(repos)[:16]]


def _sightings(result: PushResult, ref: Reference) -> list[Sighting]:
    blobs = [*result.layers, result.config]
    return [
        Sighting(
            b.uncompressed, b.compression, b.digest, b.size, b.media_type, ref.domain, ref.path
        )
        for b in blobs
    ]
