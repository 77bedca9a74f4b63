"""Layer patches inside a delta archive: `lamina-patches.json`, the patch blobs, and the
first manifest.json entry that makes plain `docker load` refuse the archive at once.

A patched delta is a delta docker-archive (transports/archive_writer.py) in which some
of the layers the recipient lacks travel as patches against layers it has
(layer/patch.py) instead of whole. It adds:

    lamina-patches.json       {"kind": "lamina-patches", "version": 1, "patches": [
                                 {"diff_id": T, "size": N, "reference": R,
                                  "blob": "blobs/sha256/<hex>", "digest": "sha256:<hex>",
                                  "patch_size": P, "reference_image": "app:1"}, ...]}
    blobs/sha256/<hex>        each patch's bytes (named by their sha256, verified on use)
    manifest.json entry 0     {"Config": REFUSAL, "RepoTags": null, "Layers": []}

The patched layers themselves are listed in manifest.json and the configs like any
left-out layer, so image IDs do not change. Entry 0 names a config that is not in the
tar: moby's loader reads each entry's config before it opens any layer, so Docker
(classic store, every version) stops at the first entry with "open .../REFUSAL: no
such file or directory", and containerd's importer (Docker 25+ on the containerd
store) with "image config REFUSAL not found", before either writes anything. The
name is the message. skopeo and podman refuse it too (a config and layers missing).
`lamina load`/`expand` skip that entry and rebuild the patched layers from the
references their store holds. Readers refuse a newer version and accept unknown keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, BinaryIO

from lamina import digest
from lamina.errors import InvalidInputError
from lamina.image import LayerPatch
from lamina.layer.patch import VERSION as PATCH_WRITES
from lamina.layer.patch import VERSIONS as PATCH_READS
from lamina.transports import oci_layout
from lamina.transports.tarfs import ArchiveFS

FILE = "lamina-patches.json"
KIND = "lamina-patches"
VERSION = 1  # of this file's layout; the patches' own format has versions of its own
READS = tuple(PATCH_READS)  # patch versions this lamina rebuilds: what a recipient says


def rebuilds(versions: object) -> bool:
    """Whether a recipient that says it reads patch `versions` can rebuild ours."""
    return isinstance(versions, list | tuple) and PATCH_WRITES in versions
REFUSAL = "lamina-patches/this archive carries layer patches: use lamina load or lamina expand"


def refusal_entry() -> dict[str, Any]:
    """The manifest.json entry that goes first in a patched archive (see module doc)."""
    return {"Config": REFUSAL, "RepoTags": None, "Layers": []}


def is_refusal(entry: Mapping[str, Any]) -> bool:
    return entry.get("Config") == REFUSAL


def blob_path(patch: LayerPatch) -> str:
    return oci_layout.blob_path(patch.digest)


def document(patches: Iterable[LayerPatch]) -> bytes:
    """lamina-patches.json for these patches (sorted: the same patches, the same bytes)."""
    items = [
        {
            "diff_id": p.diff_id,
            "size": p.size,
            "reference": p.reference,
            "blob": blob_path(p),
            "digest": p.digest,
            "patch_size": p.patch_size,
            **({"reference_image": p.reference_image} if p.reference_image else {}),
        }
        for p in sorted(patches, key=lambda p: p.diff_id)
    ]
    doc = {"kind": KIND, "version": VERSION, "patches": items}
    return json.dumps(doc, separators=(",", ":")).encode()


def read(fs: ArchiveFS) -> dict[str, LayerPatch]:
    """The patches an archive carries, by the diff_id each rebuilds ({} for none)."""
    if not fs.exists(FILE):
        return {}
    label = f"{fs.label}: {FILE}"
    try:
        doc = json.loads(fs.read_bytes(FILE))
    except (ValueError, RecursionError):
        raise InvalidInputError(f"{label} is not JSON", "the archive is damaged") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise InvalidInputError(f"{label} is not a lamina patch list", "the archive is damaged")
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise InvalidInputError(
            f"{label} is version {version!r}; this lamina reads up to {VERSION}",
            "upgrade lamina, or ask the sender for a save without patches",
            command="the sender's `lamina save --no-patches` writes one",
        )
    items = doc.get("patches")
    if not isinstance(items, list):
        raise InvalidInputError(f"{label}: patches is not a list", "the archive is damaged")
    out = {}
    for n, item in enumerate(items):
        patch = _patch(fs, item, f"{label}: patch {n}")
        out[patch.diff_id] = patch
    return out


def _patch(fs: ArchiveFS, item: Any, what: str) -> LayerPatch:
    try:
        diff_id, reference = digest.validate(item["diff_id"]), digest.validate(item["reference"])
        dig, blob = digest.validate(item["digest"]), item["blob"]
        size, patch_size = item["size"], item["patch_size"]
    except (KeyError, TypeError):
        raise InvalidInputError(f"{what} is incomplete", "the archive is damaged") from None
    if not isinstance(blob, str) or not isinstance(size, int) or not isinstance(patch_size, int):
        raise InvalidInputError(f"{what} has fields of the wrong type", "the archive is damaged")
    if not fs.exists(blob):
        raise InvalidInputError(f"{what}: {blob} is not in the archive", "the archive is damaged")
    holder = item.get("reference_image")
    return LayerPatch(
        diff_id,
        size,
        reference,
        dig,
        patch_size,
        _opener(fs, blob, dig),
        holder if isinstance(holder, str) else "",
    )


def _opener(fs: ArchiveFS, path: str, dig: str) -> Callable[[], BinaryIO]:
    def open_verified() -> BinaryIO:
        what = f"patch {digest.short(dig, algorithm=True)}"
        return digest.VerifyingReader(fs.open(path), dig, what)  # type: ignore[return-value]

    return open_verified
