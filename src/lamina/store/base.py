"""The base of an image: the layers its user did not make (docs/design.md §2).

Found in this order:
1. The image says so: the `org.opencontainers.image.base.digest` / `.base.name`
   annotations of its manifest (or the same keys as config labels, where
   `docker build --label` puts them). The digest may be the base's manifest digest
   in a registry, which the store does not keep (it rewrites manifests), so the
   image ID and then the name are tried too. A base that is named but not in the
   store is an error: guessing another one could leave out layers the user made.
2. Otherwise, the oldest tagged ancestor in the store (ancestors as Graph derives
   them: layers and history are a prefix of the image's).
An image with neither has no known base (None).

Delta save leaves a base's layers out; squash keeps them byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lamina import digest, reference
from lamina.errors import NotFoundError
from lamina.spec import BASE_DIGEST, BASE_NAME
from lamina.store.graph import Graph
from lamina.store.local import StoredImage


@dataclass(frozen=True)
class Base:
    """The base image of some image, and how it was found."""

    image: StoredImage
    source: str  # "annotation" (the image names it) or "ancestor" (oldest tagged one)

    @property
    def layer_count(self) -> int:
        """How many of the image's bottom layers are the base's."""
        return len(self.image.facts.diff_ids)

    @property
    def chain_ids(self) -> tuple[str, ...]:
        return self.image.facts.chain_ids


def find_base(graph: Graph, img: StoredImage) -> Base | None:
    """The base of `img` (annotations first, then the oldest tagged ancestor), or None."""
    declared = declared_base(img)
    if declared is not None:
        return Base(_resolve_declared(graph, img, *declared), "annotation")
    tagged = [a for a in graph.ancestors(img.id) if graph.by_id(a).names]
    if tagged:
        return Base(graph.by_id(tagged[-1]), "ancestor")  # ancestors run parent first
    return None


def declared_base(img: StoredImage) -> tuple[str | None, str | None] | None:
    """(digest, name) of the base the image's annotations or labels name, if any."""
    notes = _notes(img)
    dig, name = notes.get(BASE_DIGEST) or None, notes.get(BASE_NAME) or None
    return (dig, name) if dig or name else None


def _notes(img: StoredImage) -> Mapping[str, str]:
    labels = img.image.config.container_config.get("Labels")
    merged = {k: str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
    merged.update(img.image.annotations)  # the manifest's word wins over a label
    return merged


def _resolve_declared(
    graph: Graph, img: StoredImage, dig: str | None, name: str | None
) -> StoredImage:
    candidates = [i for i in graph.images if dig and dig in (i.id, i.manifest.digest)]
    ref = reference.try_parse(name) if name else None
    if ref is not None:
        candidates += [i for i in graph.images if ref.familiar in i.names]
    for candidate in candidates:
        if _is_layer_prefix(candidate, img):
            return candidate
    what = "@".join(part for part in (name, dig) if part is not None)
    raise NotFoundError(
        f"the base of {_label(img)} named by its annotations ({what}) is not in the store",
        "load that base image first, or name the image to leave out",
        command="with --exclude IMAGE",
    )


def _is_layer_prefix(base: StoredImage, img: StoredImage) -> bool:
    ours, theirs = img.facts.diff_ids, base.facts.diff_ids
    return len(theirs) <= len(ours) and ours[: len(theirs)] == theirs


def _label(img: StoredImage) -> str:
    return img.names[0] if img.names else digest.short(img.id)
