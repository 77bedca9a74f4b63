"""Reading the store: its roots, the images they are, their layers.

Reading takes no lock: index.json and blobs are only ever replaced by rename, so
a reader sees the store before or after a write, never half of one. Images are
loaded lazily and once per Store value (until a write): listing and the image
graph use Facts (store/facts.py), and only what a verb looks into is read from
blobs and verified.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lamina import digest, mediatype
from lamina.errors import NotFoundError
from lamina.image import Image, Layer
from lamina.spec import Config, Descriptor, Manifest
from lamina.store.cas import BlobStore
from lamina.store.facts import Facts, FactsCache
from lamina.store.refs import Entry, read_entries
from lamina.store.trash import ReaderLock


@dataclass(frozen=True)
class StoredImage:
    """An image as the store holds it: its manifest, its names, its facts; the value on demand.

    `facts` (store/facts.py) answer listing and the image graph without reading
    blobs; `image` loads and verifies the manifest and config on first use.
    """

    manifest: Descriptor
    names: tuple[str, ...]
    facts: Facts
    load: Callable[[], Image] = field(compare=False, repr=False)

    @classmethod
    def of(cls, image: Image, manifest: Descriptor | None = None) -> StoredImage:
        """An image value held in memory as the store would hold it (with its names): an
        archive's, as the graph, the base rules and name lookups take it. Without
        `manifest`, the one the store would write for it (Image.manifest_bytes())."""
        if manifest is None:
            raw = image.manifest_bytes()
            manifest = Descriptor(mediatype.OCI_MANIFEST, digest.of_bytes(raw), len(raw))
        return cls(manifest, image.names, Facts.of(image), lambda: image)

    @property
    def id(self) -> str:
        return self.facts.id

    @cached_property
    def image(self) -> Image:
        return self.load().with_names(self.names)


@contextmanager
def bulk() -> Iterator[None]:
    """No cyclic garbage collection while many acyclic values are made at once: each
    collection would walk every object made so far (quadratic in the store's size)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class StoreReader:
    """The read side of Store (which sets these attributes up)."""

    root: Path
    blobs: BlobStore
    index_path: Path
    facts: FactsCache
    readers: ReaderLock
    loads: int
    _cache: dict[tuple[str, tuple[str, ...]], StoredImage]
    _values: dict[str, Image]

    def entries(self) -> list[Entry]:
        self.readers.hold()  # from now on, no blob this index names can vanish
        return read_entries(self.index_path)

    def images(self) -> list[StoredImage]:
        """Every root image in the store, once each, with all its names (blobs read only
        for images the facts cache does not know yet)."""
        with bulk():
            roots = self.roots()
            found = [self.image_at(desc, names) for desc, names in roots]
            self.facts.save({desc.digest: desc for desc, _ in roots})
        return found

    def roots(self) -> list[tuple[Descriptor, tuple[str, ...]]]:
        """Each root manifest of index.json once, in index order, with its names sorted."""
        names: dict[str, list[str]] = {}
        descs: dict[str, Descriptor] = {}
        for entry in self.entries():
            descs.setdefault(entry.manifest.digest, entry.manifest)
            found = names.setdefault(entry.manifest.digest, [])
            if entry.name:
                found.append(entry.name)
        return [(descs[m], tuple(sorted(n))) for m, n in names.items()]

    def image_at(self, manifest: Descriptor, names: tuple[str, ...]) -> StoredImage:
        """The image of one root manifest, with the names it has."""
        key = (manifest.digest, names)
        stored = self._cache.get(key)
        if stored is None:
            dig = manifest.digest
            facts = self.facts.get(dig)
            if facts is None:
                facts = Facts.of(self._loaded(dig))
                self.facts.put(dig, facts)
            stored = StoredImage(manifest, names, facts, lambda: self._loaded(dig))
            self._cache[key] = stored
        return stored

    def _loaded(self, manifest_digest: str) -> Image:
        image = self._values.get(manifest_digest)
        if image is None:
            image = self._values[manifest_digest] = self.load_image(manifest_digest)
        return image

    def load_image(self, manifest_digest: str) -> Image:
        """The image a stored manifest describes (manifest and config verified, layers not read)."""
        self.loads += 1
        manifest = Manifest.parse(self.blobs.read_bytes(manifest_digest))
        config = Config.parse(self.blobs.read_bytes(manifest.config.digest))
        layers = tuple(
            self._layer(d.digest, diff_id, d.size)
            for d, diff_id in zip(manifest.layers, config.diff_ids, strict=False)
        )
        image = Image(config, layers, annotations=manifest.annotations)
        image.check_consistent()
        return image

    def layer(self, dig: str, diff_id: str | None = None) -> Layer:
        """A stored (uncompressed) layer as a Layer value (size 0 if the blob is missing)."""
        size = self.blobs.size(dig) if self.blobs.locate(dig) else 0
        return self._layer(dig, diff_id or dig, size)

    def _layer(self, dig: str, diff_id: str, size: int) -> Layer:
        return Layer(
            diff_id=diff_id,
            digest=dig,
            size=size,
            media_type=mediatype.OCI_LAYER,
            open_blob=lambda: self.blobs.open(dig),
        )

    def layer_in_place(self, diff_id: str) -> Layer | None:
        """The stored layer read straight from its blob file, or None if absent: seekable
        but NOT verified, for readers that check what they use (apply_patch checks every
        range it reads and the result, ops/rebuild.py)."""
        path = self.blobs.locate(diff_id)
        if path is None:
            return None
        size = path.stat().st_size
        return Layer(diff_id, diff_id, size, mediatype.OCI_LAYER, lambda: open(path, "rb"))

    def has_layer(self, diff_id: str) -> bool:
        return self.blobs.has(diff_id)

    def layer_path(self, diff_id: str) -> Path:
        path = self.blobs.locate(diff_id)  # a blob an rmi trashed stays readable for readers
        if path is None:
            raise NotFoundError(f"layer {diff_id} is not in the store")
        return path
