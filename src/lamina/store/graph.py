"""Derived relations between stored images: parents, children, lookups by name or ID.

Nothing here is stored: a parent is the nearest image whose layers and history
are a prefix of another's (docs/design.md §2), computed from the images themselves:
- P is a parent candidate of C when P is not C, P's history is a proper prefix of
  C's, and P's layers (diff_ids) are a prefix of C's (possibly all of them: history
  can grow by empty layers alone).
- The parent is the candidate with the longest history, then the most layers; on a
  tie, the one listed first.
Linear in images times history length, and needing only each image's Facts:
every image is indexed under the key of its whole history, and a child looks only
in the buckets of its own proper history prefixes, checking layers there. Images
with identical histories share a bucket: only many of those make it slower.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from lamina import reference
from lamina.errors import ConflictError, NotFoundError
from lamina.store.local import StoredImage
from lamina.store.reader import bulk

_HEX_PREFIX = re.compile(r"^(?:sha256:)?([a-f0-9]{1,64})$")


class PrefixIndex:
    """Images by the key of their whole history (see Facts), in the order added."""

    def __init__(self, images: Iterable[StoredImage] = ()) -> None:
        self.by_history: dict[str, list[tuple[int, StoredImage]]] = {}
        self.count = 0
        for img in images:
            self.add(img)

    def add(self, img: StoredImage) -> None:
        self.by_history.setdefault(img.facts.history[-1], []).append((self.count, img))
        self.count += 1

    def parent_of(self, child: StoredImage) -> StoredImage | None:
        """The nearest parent candidate of `child` among the indexed images (rules above)."""
        c = child.facts
        best: tuple[int, int, int] | None = None
        found = None
        for k, key in enumerate(c.history[:-1]):  # the child's proper history prefixes
            for pos, p in self.by_history.get(key, ()):
                n = len(p.facts.diff_ids)
                if p.id == c.id or n > len(c.diff_ids) or c.diff_ids[:n] != p.facts.diff_ids:
                    continue
                if best is None or (k, n, -pos) > best:
                    best, found = (k, n, -pos), p
        return found


class Graph:
    """Parents and children of a set of images (see the module docstring for the rules)."""

    def __init__(self, images: Sequence[StoredImage]) -> None:
        self.images = list(images)
        self.parent: dict[str, str] = {}  # image id -> parent id
        self.children: dict[str, list[str]] = {}
        self._by_id: dict[str, StoredImage] = {}
        for img in self.images:
            self._by_id.setdefault(img.id, img)

    @classmethod
    def build(cls, images: Sequence[StoredImage]) -> Graph:
        g = cls(images)
        with bulk():
            g._link(PrefixIndex(g.images))
        return g

    def _link(self, index: PrefixIndex) -> None:
        for child in self.images:
            nearest = index.parent_of(child)
            if nearest is not None:
                self.parent[child.id] = nearest.id
                self.children.setdefault(nearest.id, []).append(child.id)

    @classmethod
    def around(cls, images: Sequence[StoredImage], img: StoredImage) -> Graph:
        """The graph of `img`'s ancestors: the same parents and ancestors `build` gives for
        it, from only the images whose history is a prefix of its own (children and
        everything else are left out)."""
        f = img.facts
        prefixes = set(f.history)
        related = [i for i in images if i.facts.history[-1] in prefixes]
        return cls.build(related if img in related else [*related, img])

    def by_id(self, image_id: str) -> StoredImage:
        img = self._by_id.get(image_id)
        if img is None:
            raise NotFoundError(f"no such image: {image_id}")
        return img

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


def resolve(images: Sequence[StoredImage], text: str) -> StoredImage:
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
    raise NotFoundError(f"No such image: {text}", command="see `lamina images -a`")
