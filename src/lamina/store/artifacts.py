"""Artifacts that refer to images (signatures, attestations, SBOMs), kept byte-exact.

They are not images: they are not in index.json, `images` does not list them
and they cannot be run. `STORE/lamina/artifacts.json` maps an image ID to the
artifacts pulled with it (`pull --with-referrers`); their manifests and blobs
are kept as received, by digest, in `STORE/lamina/artifacts/<hex>`. `inspect`
shows them as `Referrers`, `system check` verifies their bytes, `push` and
`save` carry them when asked, and they are removed with the image they refer
to (after `rmi` and `image prune`, and on every write).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lamina import digest
from lamina.atomic import write_atomic
from lamina.errors import InvalidInputError
from lamina.image import Artifact
from lamina.spec import Descriptor
from lamina.store.blobinfo import read_cache
from lamina.store.local import Store

FILE = "artifacts.json"
FOLDER = "artifacts"
VERSION = 1


class Artifacts:
    """A snapshot of the record, read once; `remember` merges under the store lock."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._doc = _read(store)

    @property
    def folder(self) -> Path:
        """Where the bytes are, one file per digest (its hex)."""
        return self._store.state / FOLDER

    def of(self, image_id: str) -> list[Artifact]:
        found = [_artifact(e) for e in self._doc.get(image_id, [])]
        return [a for a in found if a is not None]

    def damaged(self) -> list[str]:
        """Digests of kept manifests and blobs that are missing or do not match (system check)."""
        bad = []
        for dig in sorted({d for a in self._all() for d in _digests(a)}):
            try:
                with open(self.folder / digest.hex_of(dig), "rb") as f:
                    actual = digest.of_stream(f)[0]
            except OSError:
                bad.append(dig)
                continue
            if actual != dig:
                bad.append(dig)
        return bad

    def remember(self, image_id: str, found: Iterable[Artifact], staged: Path) -> None:
        """Record artifacts of `image_id` whose bytes are in `staged` (moved in); takes the lock."""
        found = list(found)
        with self._store.lock():
            self.folder.mkdir(exist_ok=True)
            for a in found:
                for dig in _digests(a):
                    target = self.folder / digest.hex_of(dig)
                    if not target.exists():
                        os.replace(staged / digest.hex_of(dig), target)
            doc = self._present()
            old = [e for e in doc.get(image_id, []) if e.get("digest") not in _ids(found)]
            doc[image_id] = [*old, *(_to_json(a) for a in found)]
            self._write(doc)

    def forget_removed(self) -> None:
        """Drop what images no longer in the store had (after rmi, prune); takes the lock."""
        if not self._doc and not self.folder.is_dir():
            return
        with self._store.lock():
            self._write(self._present())

    def _all(self) -> list[Artifact]:
        return [a for image_id in self._doc for a in self.of(image_id)]

    def _present(self) -> dict[str, list[Any]]:
        present = {img.id for img in self._store.images()}
        return {k: v for k, v in _read(self._store).items() if k in present}

    def _write(self, doc: dict[str, list[Any]]) -> None:
        self._doc = doc
        keep = {digest.hex_of(d) for a in self._all() for d in _digests(a)}
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                if path.name not in keep:
                    path.unlink(missing_ok=True)
        raw = json.dumps({"version": VERSION, "images": doc}, sort_keys=True).encode()
        write_atomic(self._store.state / FILE, raw, self._store.tmp)


def copy_bytes(artifacts: Iterable[Artifact], source: Path, target: Path) -> None:
    """Copy the manifests and blobs of `artifacts` from one folder (by hex) to another."""
    for a in artifacts:
        for dig in _digests(a):
            if not (target / digest.hex_of(dig)).exists():
                shutil.copyfile(source / digest.hex_of(dig), target / digest.hex_of(dig))


def _digests(a: Artifact) -> list[str]:
    return [a.digest, *(b.digest for b in a.blobs)]


def _ids(found: list[Artifact]) -> set[str]:
    return {a.digest for a in found}


def _to_json(a: Artifact) -> dict[str, Any]:
    return {
        "digest": a.digest,
        "mediaType": a.media_type,
        "size": a.size,
        "subject": a.subject,
        "tag": a.tag,
        "artifactType": a.artifact_type,
        "blobs": [b.to_json() for b in a.blobs],
    }


def _artifact(entry: Any) -> Artifact | None:
    try:
        return Artifact(
            digest.validate(entry["digest"]),
            str(entry["mediaType"]),
            int(entry["size"]),
            digest.validate(entry["subject"]),
            str(entry.get("tag") or ""),
            tuple(Descriptor.from_json(b, "artifact blob") for b in entry["blobs"]),
            str(entry.get("artifactType") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError, InvalidInputError):
        return None  # a damaged entry is no entry


def _read(store: Store) -> dict[str, list[Any]]:
    images = read_cache(store, FILE, VERSION, "images")
    return {str(k): v for k, v in images.items() if isinstance(v, list)}
