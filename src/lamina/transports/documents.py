"""Manifests and indexes as documents: the exact bytes, their digest, what they name.

    doc = Document.of(raw, media_type)
    doc.children()   # an index's entries       doc.blobs()   # a manifest's config, layers

A Document is never re-serialised: whatever reads it keeps `raw`, so its digest (and any
signature made over it) survives a copy. The media type is the one the source declared
(a registry's Content-Type, an index entry's mediaType), else the document's own
`mediaType` field; umoci writes manifests with neither, and those are told apart by
their shape (an index has `manifests`, an image manifest `config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamina import digest, mediatype, spec
from lamina.errors import InvalidInputError
from lamina.spec import Descriptor, Platform
from lamina.transports.oci_layout import choose_platform


@dataclass(frozen=True)
class Document:
    raw: bytes
    media_type: str
    digest: str

    @classmethod
    def of(cls, raw: bytes, declared: str = "") -> Document:
        kind = declared
        if kind not in mediatype.MANIFESTS | mediatype.INDEXES:
            own = spec.parse_json(raw, "manifest").get("mediaType")
            kind = own if isinstance(own, str) and own else declared
        return cls(raw, kind, digest.of_bytes(raw))

    @property
    def is_index(self) -> bool:
        if self.media_type in mediatype.INDEXES:
            return True
        if self.media_type in mediatype.MANIFESTS:
            return False
        doc = self.doc()
        return "manifests" in doc and "config" not in doc

    def doc(self) -> dict[str, Any]:
        return spec.parse_json(self.raw, f"manifest {self.digest}")

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))

    def children(self) -> tuple[Descriptor, ...]:
        """The entries of an index, in order."""
        entries = self.doc().get("manifests")
        if not isinstance(entries, list):
            raise InvalidInputError(f"image index {self.digest} has no manifests list")
        return tuple(Descriptor.from_json(e, f"image index {self.digest}") for e in entries)

    def blobs(self) -> tuple[Descriptor, ...]:
        """What an image (or artifact) manifest needs beside it: config, then layers."""
        doc = self.doc()
        what = f"manifest {self.digest}"
        found = [Descriptor.from_json(doc["config"], what)] if "config" in doc else []
        for key in ("layers", "blobs"):  # "blobs": the OCI 1.1-rc artifact manifest
            entries = doc.get(key) or []
            if not isinstance(entries, list):
                raise InvalidInputError(f"{what}: {key} is not a list")
            found += [Descriptor.from_json(e, what) for e in entries]
        return tuple(found)

    def config(self) -> Descriptor:
        if self.is_index or "config" not in self.doc():
            raise InvalidInputError(f"{self.digest} is not an image manifest (it has no config)")
        return self.blobs()[0]

    def platform_entry(self, platform: Platform, label: str) -> Descriptor:
        """The entry of this index for `platform` (attestations, os "unknown", never)."""
        entries = self.children()
        images = tuple(d for d in entries if d.platform is not None and d.platform.os != "unknown")
        return choose_platform(images or entries, platform, label)[0]
