"""What a store holds, as a small versioned JSON document (`lamina inventory`).

A sender reads it (`save --have FILE`, `send`) to leave out what the recipient has.

    {"kind": "lamina-inventory", "version": 1,
     "layers": [{"chain_id": C, "diff_id": D, "parent": P-or-null}, ...],
     "images": [{"id": I, "tags": ["repo:tag", ...], "chain_id": C-or-null}, ...],
     "patches": [1, 2]}

`patches` (optional) lists the layer-patch format versions the recipient rebuilds
(transports/archive_patches.py): a lamina store's inventory says it, a Docker Engine's
(`inventory --docker`) does not, so `save --have` sends patches only where they load.

Layers are listed by chain ID, with the diff_id and the parent chain they extend,
because a layer is only "had" as part of a stack: `docker load` skips a layer file
exactly when it already has that layer's chain ID (the whole prefix below it), not
when some other stack holds a layer with the same diff_id. Each entry is checked on
reading (chain_id must be sha256(parent + " " + diff_id)), so a damaged or hand-made
file fails here rather than producing an archive the recipient cannot load.
Readers accept unknown keys (later minor additions) and refuse a newer version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina import digest
from lamina.errors import InvalidInputError, NotFoundError
from lamina.spec import parse_json
from lamina.store.local import StoredImage

KIND = "lamina-inventory"
VERSION = 1


@dataclass(frozen=True)
class LayerEntry:
    chain_id: str
    diff_id: str
    parent: str | None


@dataclass(frozen=True)
class ImageEntry:
    id: str
    tags: tuple[str, ...]
    chain_id: str | None  # top of its stack; None for an image without layers


@dataclass(frozen=True)
class Inventory:
    """What a store holds, to send to whoever saves a delta for it (`save(have=...)`).

    Layers by chain ID (so a layer counts only on the same parents) and the images
    with their tags; `write`/`read` keep it as a small versioned JSON file.
    """

    layers: Mapping[str, LayerEntry] = field(default_factory=dict)  # by chain ID
    images: tuple[ImageEntry, ...] = ()
    patches: tuple[int, ...] = ()  # layer-patch versions the recipient rebuilds

    @property
    def chain_ids(self) -> frozenset[str]:
        return frozenset(self.layers)

    @property
    def diff_ids(self) -> frozenset[str]:
        return frozenset(e.diff_id for e in self.layers.values())

    def stacks(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(tags, diff_ids bottom first) of each image listed with its whole stack: what
        a sender may patch layers against (ops/references.py)."""
        out = []
        for image in self.images:
            diff_ids: list[str] = []
            chain = image.chain_id
            while chain is not None and chain in self.layers:
                entry = self.layers[chain]
                diff_ids.append(entry.diff_id)
                chain = entry.parent
            if chain is None and diff_ids:  # every layer down to the bottom is listed
                out.append((image.tags, tuple(reversed(diff_ids))))
        return out

    @classmethod
    def of_images(cls, images: Iterable[StoredImage]) -> Inventory:
        return cls.of_stacks((img.id, img.names, img.image.diff_ids) for img in images)

    @classmethod
    def of_stacks(cls, stacks: Iterable[tuple[str, Sequence[str], Sequence[str]]]) -> Inventory:
        """From (image ID, tags, diff_ids bottom first) of each image, wherever it lives."""
        layers: dict[str, LayerEntry] = {}
        entries = []
        for image_id, tags, diff_ids in stacks:
            chains = digest.chain_ids(diff_ids)
            for i, (chain, diff_id) in enumerate(zip(chains, diff_ids, strict=True)):
                layers[chain] = LayerEntry(chain, diff_id, chains[i - 1] if i else None)
            entries.append(ImageEntry(image_id, tuple(tags), chains[-1] if chains else None))
        return cls(layers, tuple(sorted(entries, key=lambda e: e.id)))

    def to_doc(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": VERSION,
            "layers": [
                {"chain_id": e.chain_id, "diff_id": e.diff_id, "parent": e.parent}
                for _, e in sorted(self.layers.items())
            ],
            "images": [
                {"id": e.id, "tags": list(e.tags), "chain_id": e.chain_id} for e in self.images
            ],
            **({"patches": list(self.patches)} if self.patches else {}),
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_doc(), indent=1).encode() + b"\n"

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], label: str = "inventory") -> Inventory:
        _check_header(doc, label)
        layers = {}
        for n, item in enumerate(_list(doc, "layers", label)):
            entry = _layer(item, f"{label}: layer {n}")
            layers[entry.chain_id] = entry
        images = tuple(
            _image(item, f"{label}: image {n}")
            for n, item in enumerate(_list(doc, "images", label))
        )
        patches = tuple(v for v in _list(doc, "patches", label) if isinstance(v, int))
        return cls(layers, images, patches)

    @classmethod
    def parse(cls, raw: bytes, label: str = "inventory") -> Inventory:
        return cls.from_doc(parse_json(raw, label), label)

    @classmethod
    def read(cls, path: str | Path) -> Inventory:
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{path}: no such inventory file") from None
        except OSError as exc:
            raise InvalidInputError(f"cannot read inventory {path}: {exc.strerror}") from None
        return cls.parse(raw, str(path))


def _check_header(doc: Mapping[str, Any], label: str) -> None:
    if doc.get("kind") != KIND:
        raise InvalidInputError(
            f"{label} is not a lamina inventory",
            "make one from the store (inventory)",
            command="make one with `lamina inventory -o FILE`",
        )
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise InvalidInputError(f"{label} has a bad version {version!r}", "make it again")
    if version > VERSION:
        raise InvalidInputError(
            f"{label} is inventory version {version}; this lamina reads up to {VERSION}",
            "upgrade lamina on this side, or make the inventory with the same version",
        )


def _list(doc: Mapping[str, Any], key: str, label: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise InvalidInputError(f"{label}: {key} is not a list", "the file is corrupt")
    return value


def _layer(item: Any, what: str) -> LayerEntry:
    if not isinstance(item, dict):
        raise InvalidInputError(f"{what} is not an object", "the file is corrupt")
    try:
        chain, diff_id = digest.validate(item["chain_id"]), digest.validate(item["diff_id"])
    except KeyError as exc:
        raise InvalidInputError(f"{what} lacks {exc}", "the file is corrupt") from None
    parent = item.get("parent")
    if parent is not None:
        digest.validate(parent)
    expected = digest.of_bytes(f"{parent} {diff_id}".encode()) if parent else diff_id
    if chain != expected:
        raise InvalidInputError(
            f"{what}: chain_id {digest.short(chain, algorithm=True)} does not follow from its "
            "parent and diff_id",
            "the file is corrupt or was edited; make it again",
            command="with `lamina inventory`",
        )
    return LayerEntry(chain, diff_id, parent)


def _image(item: Any, what: str) -> ImageEntry:
    if not isinstance(item, dict) or "id" not in item:
        raise InvalidInputError(f"{what} is not an image entry", "the file is corrupt")
    chain = item.get("chain_id")
    tags = item.get("tags") or []
    if not isinstance(tags, list):
        raise InvalidInputError(f"{what}: tags is not a list", "the file is corrupt")
    return ImageEntry(
        digest.validate(item["id"]),
        tuple(str(t) for t in tags),
        digest.validate(chain) if chain is not None else None,
    )
