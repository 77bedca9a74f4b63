"""What each layer became when it travelled compressed (Docker's distribution metadata).

`STORE/lamina/blobinfo.json` maps an uncompressed digest (a layer's diff_id, or
a config's digest for blobs that travel as they are) to, per compression, the
compressed blob's digest, size and media type, and the repositories of each
registry known to hold it. Push asks it which digest to HEAD and where to mount
from; pull and push tell it what they saw. It is a cache: losing it costs a
recompression, never correctness, so a damaged file is ignored and rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lamina import digest
from lamina.atomic import write_atomic
from lamina.store.local import Store

FILE = "blobinfo.json"
VERSION = 1
MAX_FORMS = 4  # compressed forms kept per compression (different tools, levels)
MAX_REPOS = 32  # per registry: enough to find a mount source, bounded so the file stays small


@dataclass(frozen=True)
class Known:
    """One compressed form of an uncompressed blob, and where it has been seen."""

    digest: str
    size: int
    media_type: str
    repositories: dict[str, tuple[str, ...]] = field(default_factory=dict)  # registry -> repos

    def repos_on(self, registry: str) -> tuple[str, ...]:
        return self.repositories.get(registry, ())


@dataclass(frozen=True)
class Sighting:
    """`uncompressed` travels as `digest` (compressed with `compression`) in registry/repository."""

    uncompressed: str
    compression: str
    digest: str
    size: int
    media_type: str
    registry: str
    repository: str


class BlobInfo:
    """A snapshot of the file, read once; `remember` merges into the file under the store lock."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._path = store.state / FILE
        self._doc = _read(self._store)

    def lookup(self, uncompressed: str, compression: str, registry: str = "") -> list[Known]:
        """Known compressed forms, those seen on `registry` first."""
        forms = self._doc.get(uncompressed, {}).get(compression)
        if not isinstance(forms, dict):
            return []
        found = [k for dig, entry in forms.items() if (k := _known(dig, entry)) is not None]
        return sorted(found, key=lambda k: not k.repos_on(registry))

    def remember(self, sightings: Iterable[Sighting]) -> None:
        """Record what was pushed or pulled (takes the store lock: never inside a transaction)."""
        todo = list(sightings)
        if not todo:
            return
        with self._store.lock():
            doc = _read(self._store)
            for s in todo:
                _merge(doc, s)
            raw = json.dumps({"version": VERSION, "blobs": doc}, sort_keys=True).encode()
            write_atomic(self._path, raw, self._store.tmp)
        self._doc = doc


def _known(dig: str, entry: Any) -> Known | None:
    if not digest.is_digest(dig) or not isinstance(entry, dict):
        return None
    try:
        repos = {
            str(reg): tuple(str(r) for r in names)
            for reg, names in (entry.get("repositories") or {}).items()
        }
        return Known(dig, int(entry["size"]), str(entry["mediaType"]), repos)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # a damaged entry is no entry: it only costs a recompression


def _read(store: Store) -> dict[str, Any]:
    return read_cache(store, FILE, VERSION, "blobs")


def read_cache(store: Store, name: str, version: int, key: str) -> dict[str, Any]:
    """`key` of a JSON file under STORE/lamina/; {} when missing, damaged or of another version."""
    try:
        doc = json.loads((store.state / name).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("version") != version:
        return {}
    found = doc.get(key)
    return found if isinstance(found, dict) else {}


def _merge(doc: dict[str, Any], s: Sighting) -> None:
    forms = doc.setdefault(s.uncompressed, {}).setdefault(s.compression, {})
    entry = forms.pop(s.digest, None)
    if not isinstance(entry, dict):
        entry = {}
    entry.update(size=s.size, mediaType=s.media_type)
    repos = entry.setdefault("repositories", {})
    names = [r for r in repos.get(s.registry, []) if r != s.repository]
    repos[s.registry] = [s.repository, *names][:MAX_REPOS]
    forms[s.digest] = entry  # last seen last: the oldest forms are dropped first
    for old in list(forms)[:-MAX_FORMS]:
        del forms[old]
