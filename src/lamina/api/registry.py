"""Verbs that talk to registries: push, pull, login, logout.

Each composes the store, the registry transport and the blob memory
(lamina.store.blobinfo): push asks the memory what each layer became last time
and tells it what it did; pull lands the image through one store transaction,
like `load`, then tells the memory which compressed blobs it saw.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import zstandard
from isal.isal_zlib import error as IsalError

from lamina import digest, reference
from lamina.api.base import get_image
from lamina.errors import InvalidInputError, LaminaError, UsageError
from lamina.image import Image
from lamina.progress import Progress
from lamina.reference import Reference
from lamina.spec import Descriptor, Platform
from lamina.store.blobinfo import BlobInfo, Known, Sighting
from lamina.store.local import Store, Transaction
from lamina.transports.registry import auth
from lamina.transports.registry import pull as remote
from lamina.transports.registry import push as sender
from lamina.transports.registry.push import PushResult, SentBlob

if TYPE_CHECKING:
    from lamina.transports.registry.client import Session
    from lamina.transports.registry.repo import Repository

COMPRESSIONS = sender.COMPRESSIONS
MANIFEST_FORMATS = ("oci", "v2s2")
# what the gzip and zstd decoders raise on damaged data (neither is an OSError)
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    IsalError,  # type: ignore[assignment]  # isal's stub declares it an instance
    zstandard.ZstdError,
)


@dataclass(frozen=True)
class Pushed:
    reference: str  # the familiar name pushed to
    result: PushResult

    @property
    def digest(self) -> str:
        return self.result.manifest_digest

    @property
    def size(self) -> int:
        return self.result.manifest_size

    @property
    def layers(self) -> tuple[SentBlob, ...]:
        return self.result.layers


@dataclass(frozen=True)
class Pulled:
    reference: str  # the familiar name pulled (name@digest for digest pulls)
    name: str  # the tag the image got in the store ("" for a digest pull)
    id: str
    digest: str  # what the reference resolved to in the registry
    new_layers: int  # layers downloaded; 0 means the store was up to date
    replaced: str  # image ID the name pointed at before, when it moved; else ""
    up_to_date: bool  # the name already pointed at this image


def parse_remote(text: str) -> Reference:
    """A registry reference, normalised as Docker does (docker.io/library/..., :latest)."""
    return reference.parse(text)


def connect(host: str, tls_verify: bool, creds: auth.Credentials | None) -> Session:
    # imported here: httpx takes ~0.1 s to import, and only registry verbs need it
    from lamina.transports.registry.client import Session

    return Session(host, tls_verify=tls_verify, credentials=creds)


@contextmanager
def open_repository(
    ref: Reference, scopes: list[str], tls_verify: bool, docker_config: Path | None
) -> Iterator[Repository]:
    """The repository `ref` names, authenticated for `scopes` with the saved credentials."""
    from lamina.transports.registry.repo import Repository

    creds = auth.load_credentials(ref.domain, docker_config)
    with connect(ref.domain, tls_verify, creds) as session:
        session.authenticate(scopes)
        yield Repository(session, ref.path)


# -- push -------------------------------------------------------------------------


def push(
    store: Store,
    source: str,
    target: str | None = None,
    *,
    compression: str = "gzip",
    manifest_format: str = "oci",
    tls_verify: bool = True,
    progress: Progress | None = None,
    chunk_size: int = sender.CHUNK_SIZE,
    docker_config: Path | None = None,
) -> Pushed:
    """Push image `source` to `target` (default: `source` itself, a registry reference)."""
    if compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r}", "use gzip, zstd or none")
    if manifest_format not in MANIFEST_FORMATS:
        raise UsageError(f"unknown manifest format {manifest_format!r}", "use oci or v2s2")
    ref = parse_remote(target or source)
    if ref.digest:
        raise UsageError(f"cannot push to a digest reference {ref.familiar}", "give a tag")
    image = get_image(store, source).image
    options = sender.Options(
        compression="" if compression == "none" else compression,
        docker_format=manifest_format == "v2s2",
        chunk_size=chunk_size,
    )
    memory = BlobInfo(store)
    scopes = [auth.scope(ref.path, "pull,push"), *_mount_scopes(memory, image.diff_ids, ref)]
    scratch = store.scratch_dir()
    try:
        with open_repository(ref, scopes, tls_verify, docker_config) as repo:

            def lookup(uncompressed: str, kind: str) -> list[Known]:
                return memory.lookup(uncompressed, kind, ref.domain)

            pusher = sender.Pusher(repo, lookup, scratch, options, progress or Progress.null())
            result = pusher.push(image, ref.tag)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    memory.remember(_sightings(result, ref))
    return Pushed(ref.familiar, result)


def _mount_scopes(memory: BlobInfo, diff_ids: tuple[str, ...], ref: Reference) -> list[str]:
    """Pull scopes for the repositories we may mount from (a token must cover them)."""
    repos: set[str] = set()
    for diff_id in diff_ids:
        for kind in ("gzip", "zstd", ""):
            for known in memory.lookup(diff_id, kind, ref.domain):
                repos.update(known.repos_on(ref.domain)[:2])
    repos.discard(ref.path)
    return [auth.scope(r, "pull") for r in sorted(repos)[:16]]


def _sightings(result: PushResult, ref: Reference) -> list[Sighting]:
    blobs = [*result.layers, result.config]
    return [
        Sighting(
            b.uncompressed, b.compression, b.digest, b.size, b.media_type, ref.domain, ref.path
        )
        for b in blobs
    ]


# -- pull -------------------------------------------------------------------------


def pull(
    store: Store,
    text: str,
    *,
    platform: Platform | None = None,
    tls_verify: bool = True,
    progress: Progress | None = None,
    docker_config: Path | None = None,
) -> Pulled:
    """Pull an image into the store, named as pulled; all-or-nothing."""
    ref = parse_remote(text)
    name = "" if ref.digest else ref.familiar
    with open_repository(ref, [auth.scope(ref.path, "pull")], tls_verify, docker_config) as repo:
        found = remote.fetch(
            repo, ref.digest or ref.tag, platform=platform, progress=progress, name=name
        )
        landed = _land(store, found.image, name)
    BlobInfo(store).remember(_pulled_sightings(found, ref))
    shown = f"{ref.repository}@{found.digest}" if ref.digest else ref.familiar
    return Pulled(reference.parse(shown).familiar, name, found.image.id, found.digest, *landed)


def _land(store: Store, image: Image, name: str) -> tuple[int, str, bool]:
    """One transaction, like `load`: (layers downloaded, image the name left, was up to date)."""
    with store.transaction() as tx:
        new_layers = sum(1 for d in set(image.diff_ids) if not tx.has_blob(d))
        before = next((e.manifest.digest for e in tx.entries if name and e.name == name), None)
        before_id = tx.image_id_of(before) if before is not None else ""
        tx.keep(_put(image, tx), name)  # a digest pull stays untagged, as with Docker
    replaced = before_id if before_id != image.id else ""
    return new_layers, replaced, before_id == image.id


def _put(image: Image, tx: Transaction) -> Descriptor:
    """put_image, with decompressor failures (corrupt blobs) told as such."""
    try:
        return tx.put_image(image)  # layers draw their own progress bars
    except _DECODE_ERRORS as exc:
        raise InvalidInputError(
            "a layer of "
            f"{image.names[0] if image.names else digest.short(image.id, algorithm=True)}"
            f" does not decompress ({exc})",
            "the registry holds a damaged blob; push the image again",
        ) from None


def _pulled_sightings(found: remote.RemoteImage, ref: Reference) -> list[Sighting]:
    out = []
    for layer in found.image.layers:
        try:
            kind = layer.compression
        except LaminaError:
            continue
        out.append(
            Sighting(
                layer.diff_id,
                kind,
                layer.digest,
                layer.size,
                layer.media_type,
                ref.domain,
                ref.path,
            )
        )
    config = found.manifest.config
    out.append(
        Sighting(
            config.digest, "", config.digest, config.size, config.media_type, ref.domain, ref.path
        )
    )
    return out


# -- login ------------------------------------------------------------------------


def login(
    registry: str | None,
    username: str,
    password: str,
    *,
    tls_verify: bool = True,
    docker_config: Path | None = None,
) -> Path:
    """Check credentials against the registry's /v2/, then save them; returns the config file."""
    host = auth.normalize_host(registry or reference.DEFAULT_DOMAIN)
    if not username or not password:
        raise UsageError("login needs a username and a password")
    creds = auth.Credentials(username, password)
    with connect(host, tls_verify, creds) as session:
        session.authenticate([])
        session.request("GET", "/v2/", what="login check")
    return auth.save_credentials(host, creds, docker_config)


def logout(registry: str | None, *, docker_config: Path | None = None) -> bool:
    """Forget saved credentials; False when none were saved."""
    host = auth.normalize_host(registry or reference.DEFAULT_DOMAIN)
    return auth.remove_credentials(host, docker_config)
