"""Where images were in registries: Docker's RepoDigests, and the manifests as received.

`STORE/lamina/origins.json` maps an image ID to the registry repositories it was
pulled from or pushed to, each with the digest the registry serves for it (the
index digest for a multi-platform pull, as Docker records it) and the digest of
the image manifest itself. The manifest (and index) bytes as received are kept
beside it in `STORE/lamina/manifests/<hex>`, so an image pushed unchanged can
be pushed as the very manifest it came as (its digest, and signatures made for
it, stay valid).

A sidecar, not index.json annotations: index.json has one entry per *name*,
while these belong to the *image* (a digest pull has no name; an image with
three names would carry the list three times), and OCI readers ignore
`lamina/`. Entries of images no longer in the store are dropped after `rmi`
and `image prune` and on every write; a kept manifest is verified against its digest when
read, and a damaged one is no manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina import digest, reference
from lamina.atomic import write_atomic
from lamina.errors import InvalidInputError
from lamina.store.blobinfo import read_cache
from lamina.store.local import Store

FILE = "origins.json"
MANIFESTS = "manifests"
VERSION = 1
MAX_ORIGINS = 64  # per image: bounded, the newest kept


@dataclass(frozen=True)
class Origin:
    """Image seen as `repository@digest`; `manifest` is its own manifest's digest."""

    repository: str  # full name without tag: localhost:5000/team/app, docker.io/library/x
    digest: str
    manifest: str
    media_type: str  # the manifest's

    @property
    def familiar_repository(self) -> str:
        return reference.parse(self.repository).familiar_repository

    @property
    def repo_digest(self) -> str:
        """`name@sha256:...` in Docker's familiar form."""
        return f"{self.familiar_repository}@{self.digest}"

    def to_json(self) -> dict[str, str]:
        return {
            "repository": self.repository,
            "digest": self.digest,
            "manifest": self.manifest,
            "mediaType": self.media_type,
        }


class Origins:
    """A snapshot of the record, read once; `remember` merges under the store lock."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._doc = _read(store)

    def of(self, image_id: str) -> list[Origin]:
        """Newest first."""
        found = [_origin(e) for e in self._doc.get(image_id, [])]
        return [o for o in found if o is not None][::-1]

    def served_as(self, repository: str, dig: str) -> set[str]:
        """IDs of images `repository@dig` was (full repository name)."""
        wanted = (repository, dig)
        return {
            image_id
            for image_id in self._doc
            if any((o.repository, o.digest) == wanted for o in self.of(image_id))
        }

    def repo_digests(self, image_id: str) -> list[str]:
        """Docker's `RepoDigests`: sorted, each once."""
        return sorted({o.repo_digest for o in self.of(image_id)})

    def manifest(self, dig: str) -> bytes | None:
        """Kept manifest or index bytes, or None (never kept, or damaged)."""
        if not digest.is_digest(dig):
            return None
        try:
            raw = (self._store.state / MANIFESTS / digest.hex_of(dig)).read_bytes()
        except OSError:
            return None
        return raw if digest.of_bytes(raw) == dig else None

    def remember(self, image_id: str, origin: Origin, received: Mapping[str, bytes]) -> None:
        """Record one pull or push, keeping `received` (digest -> bytes); takes the lock."""
        with self._store.lock():
            doc = self._present()
            entries = [e for e in doc.get(image_id, []) if _origin(e) != origin]
            doc[image_id] = [*entries, origin.to_json()][-MAX_ORIGINS:]
            folder = self._store.state / MANIFESTS
            folder.mkdir(exist_ok=True)
            for dig, raw in received.items():
                digest.check(dig, digest.of_bytes(raw), f"manifest {dig}")
                path = folder / digest.hex_of(dig)
                if not path.exists():
                    write_atomic(path, raw, self._store.tmp)
            self._write(doc)

    def forget_removed(self) -> None:
        """Drop what images no longer in the store had (after rmi, prune); takes the lock."""
        if not self._doc:
            return
        with self._store.lock():
            self._write(self._present())

    def _present(self) -> dict[str, list[Any]]:
        present = {img.id for img in self._store.images()}
        return {k: v for k, v in _read(self._store).items() if k in present}

    def _write(self, doc: dict[str, list[Any]]) -> None:
        folder = self._store.state / MANIFESTS
        if folder.is_dir():
            _prune(folder, _named(doc.values()))
        raw_doc = json.dumps({"version": VERSION, "images": doc}, sort_keys=True).encode()
        write_atomic(self._store.state / FILE, raw_doc, self._store.tmp)
        self._doc = doc


def _origin(entry: Any) -> Origin | None:
    try:
        found = Origin(
            str(entry["repository"]),
            digest.validate(entry["digest"]),
            digest.validate(entry["manifest"]),
            str(entry["mediaType"]),
        )
    except (KeyError, TypeError, AttributeError, InvalidInputError):
        return None  # a damaged entry is no entry
    return found


def _named(lists: Iterable[list[Any]]) -> set[str]:
    out: set[str] = set()
    for entries in lists:
        for e in entries:
            if (o := _origin(e)) is not None:
                out.update((digest.hex_of(o.digest), digest.hex_of(o.manifest)))
    return out


def _prune(folder: Path, keep: set[str]) -> None:
    """Forget manifests no remembered origin names."""
    for path in folder.iterdir():
        if path.name not in keep:
            path.unlink(missing_ok=True)


def _read(store: Store) -> dict[str, list[Any]]:
    images = read_cache(store, FILE, VERSION, "images")
    return {str(k): v for k, v in images.items() if isinstance(v, list)}
