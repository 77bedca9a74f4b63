"""Opening the store and finding images in it: what every verb starts from.

A verb that names one image loads only that image when the name is a tag in
index.json; IDs, digests and unknown names fall back to looking at every image
(with the same answer `graph.resolve` gives). `name@sha256:...` also finds an
image by the digest a registry served it under (store/origins.py), as Docker's
RepoDigests do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lamina import reference
from lamina.store.graph import Graph, resolve
from lamina.store.local import Store, StoredImage
from lamina.store.origins import Origins

# One name or several. A lone string is one name, never a sequence of one-letter names.
Names = str | Sequence[str]


def as_names(names: Names) -> list[str]:
    """`names` as a list: "local/app:1" is ["local/app:1"]."""
    return [names] if isinstance(names, str) else list(names)


def open_store(path: str | Path | None = None) -> Store:
    """The store at `path`, else $LAMINA_STORE, else ~/.local/share/lamina (made on first use)."""
    return Store.open(path)


def graph(store: Store) -> Graph:
    """Every image of the store with its parent and children (Docker's image graph)."""
    return Graph.build(store.images())


def get_image(store: Store, ref: str) -> StoredImage:
    """The image `ref` names (see `graph.resolve`), loading as few images as it can."""
    parsed = reference.try_parse(ref)
    if parsed is not None and not parsed.digest:
        for desc, names in store.roots():
            if parsed.familiar in names:
                return store.image_at(desc, names)
    images = store.images()
    if parsed is not None and parsed.digest:
        ids = Origins(store).served_as(parsed.repository, parsed.digest)
        found = [img for img in images if img.id in ids]
        if found:
            return found[0]
    return resolve(images, ref)
