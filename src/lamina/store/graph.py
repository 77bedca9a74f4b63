"""Derived relations between stored images: parents, children, lookups by name or ID.

Nothing here is stored: a parent is the nearest image whose layers and history
are a prefix of another's (docs/design.md §2), computed from the images themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lamina import reference
from lamina.errors import ConflictError, NotFoundError
from lamina.store.local import StoredImage

_HEX_PREFIX = re.compile(r"^(?:sha256:)?([a-f0-9]{1,64})$")


def is_prefix_of(parent: StoredImage, child: StoredImage) -> bool:
    p, c = parent.image, child.image
    if p.id == c.id:
        return False
    ph, ch = p.history, c.history
    if len(ph) >= len(ch) or ch[: len(ph)] != ph:
        return False
    return len(p.diff_ids) <= len(c.diff_ids) and c.diff_ids[: len(p.diff_ids)] == p.diff_ids


@dataclass
class Graph:
    images: list[StoredImage]
    parent: dict[str, str] = field(default_factory=dict)  # image id -> parent id
    children: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, images: list[StoredImage]) -> Graph:
        g = cls(images)
        for child in images:
            candidates = [p for p in images if is_prefix_of(p, child)]
            if candidates:
                nearest = max(candidates, key=lambda p: (len(p.image.history), len(p.image.layers)))
                g.parent[child.id] = nearest.id
                g.children.setdefault(nearest.id, []).append(child.id)
        return g

    def by_id(self, image_id: str) -> StoredImage:
        for img in self.images:
            if img.id == image_id:
                return img
        raise NotFoundError(f"no such image: {image_id}")

    def ancestors(self, image_id: str) -> list[str]:
        """Parent first, then its parent, and so on."""
        out = []
        current = self.parent.get(image_id)
        while current is not None:
            out.append(current)
            current = self.parent.get(current)
        return out

    def is_dangling(self, img: StoredImage) -> bool:
        """Untagged and nobody's parent: `images` lists it as <none>; intermediates need -a."""
        return not img.names and not self.children.get(img.id)


def resolve(images: list[StoredImage], text: str) -> StoredImage:
    """Find an image by `name[:tag]`, `name@sha256:...`, or a full or short image ID."""
    ref = reference.try_parse(text)
    if ref is not None:
        if ref.digest:
            for img in images:
                if ref.digest in (img.id, img.manifest.digest) and any(
                    reference.parse(n).repository == ref.repository for n in img.names
                ):
                    return img
        else:
            for img in images:
                if ref.familiar in img.names:
                    return img
    match = _HEX_PREFIX.match(text)
    if match:
        prefix = "sha256:" + match.group(1)
        found = [img for img in images if img.id.startswith(prefix)]
        if len(found) > 1:
            raise ConflictError(f"image ID prefix {text!r} is ambiguous", "give more characters")
        if found:
            return found[0]
    raise NotFoundError(f"No such image: {text}", "see `lamina images -a`")
