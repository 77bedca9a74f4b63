"""Verbs that talk to registries: push, pull, login, logout.

Each composes the store, the registry transport and the blob memory
(lamina.store.blobinfo): push asks the memory what each layer became last time
and tells it what it did; pull lands the image through one store transaction,
like `load`, then tells the memory which compressed blobs it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import zstandard
from isal.isal_zlib import error as IsalError

from lamina import digest, reference
from lamina.api.push import COMPRESSIONS, MANIFEST_FORMATS, Pushed, push
from lamina.api.remote import connect, open_repository, parse_remote
from lamina.errors import InvalidInputError, LaminaError, UsageError
from lamina.image import Image
from lamina.progress import Progress
from lamina.reference import Reference
from lamina.spec import Descriptor, Platform
from lamina.store.blobinfo import BlobInfo, Sighting
from lamina.store.local import Store, Transaction
from lamina.store.origins import Origin, Origins
from lamina.transports.registry import auth
from lamina.transports.registry import pull as remote

__all__ = [
    "COMPRESSIONS",
    "MANIFEST_FORMATS",
    "Pulled",
    "Pushed",
    "connect",
    "login",
    "logout",
    "open_repository",
    "parse_remote",
    "pull",
    "push",
]
# what the gzip and zstd decoders raise on damaged data (neither is an OSError)
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    IsalError,  # type: ignore[assignment]  # isal's stub declares it an instance
    zstandard.ZstdError,
)


@dataclass(frozen=True)
class Pulled:
    """What `pull` did: the image, the registry's digest, and what was downloaded."""

    reference: str  # the familiar name pulled (name@digest for digest pulls)
    name: str  # the tag the image got in the store ("" for a digest pull)
    id: str
    digest: str  # what the reference resolved to in the registry
    new_layers: int  # layers downloaded; 0 means the store was up to date
    replaced: str  # image ID the name pointed at before, when it moved; else ""
    up_to_date: bool  # the name already pointed at this image


# -- pull -------------------------------------------------------------------------


def pull(
    store: Store,
    text: str,
    *,
    platform: Platform | str | None = None,
    tls_verify: bool = True,
    progress: Progress | None = None,
    docker_config: Path | None = None,
) -> Pulled:
    """Pull an image into the store, named as pulled; all-or-nothing."""
    ref = parse_remote(text)
    name = "" if ref.digest else ref.familiar
    with open_repository(ref, [auth.scope(ref.path, "pull")], tls_verify, docker_config) as repo:
        wanted = Platform.of(platform)
        found = remote.fetch(
            repo, ref.digest or ref.tag, platform=wanted, progress=progress, name=name
        )
        landed = _land(store, found.image, name)
    BlobInfo(store).remember(_pulled_sightings(found, ref))
    origin = Origin(ref.repository, found.digest, found.manifest_digest, found.media_type)
    Origins(store).remember(found.image.id, origin, found.received)
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
    """Missing layers downloaded in parallel into the transaction, then put_image."""
    missing = [x for x in image.layers if not tx.has_blob(x.diff_id)]
    for path, diff_id in remote.download_layers(missing, tx.staging, remote.WORKERS):
        tx.adopt(path, diff_id)
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
) -> str:
    """Check credentials against /v2/, then save them; says where (the file or a helper)."""
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
