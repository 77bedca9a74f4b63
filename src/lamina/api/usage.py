"""`system df`: what the store's images and containers take, counted as Docker counts.

Images (Docker's rules, daemon/images): the images `images` lists (no untagged
parents); an image is active when a container was made from it. Its shared size is
the size of its layers that another listed image also has (by chain ID), its unique
size the rest. The total is every layer any image has, each counted once; what is
reclaimable is the total less the unique sizes of active images. Layer sizes are
Docker's (api/views.py).

Containers: a lamina container holds its whole filesystem (no overlay), so its size
is the bytes under its directory, which `container prune` frees; Docker counts only
a container's writable layer. Local volumes and build cache: lamina has neither
(always 0).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lamina.api import views
from lamina.api.images import layer_sizes
from lamina.api.lookup import graph
from lamina.containers.records import Container, Containers
from lamina.store.local import Store
from lamina.store.tmp import tree_size


@dataclass(frozen=True)
class ImageUsage:
    row: views.ImageRow
    shared: int
    unique: int
    containers: int


@dataclass(frozen=True)
class ContainerUsage:
    container: Container
    size: int


@dataclass(frozen=True)
class Usage:
    images: list[ImageUsage]
    layers_size: int  # every layer of every image, once
    containers: list[ContainerUsage]

    @property
    def total_images(self) -> int:
        return len({u.row.id for u in self.images})

    @property
    def active_images(self) -> int:
        return len({u.row.id for u in self.images if u.containers})

    @property
    def image_reclaimable(self) -> int:
        seen: dict[str, int] = {u.row.id: u.unique for u in self.images if u.containers}
        return self.layers_size - sum(seen.values())

    @property
    def containers_size(self) -> int:
        return sum(u.size for u in self.containers)

    @property
    def container_reclaimable(self) -> int:
        return sum(u.size for u in self.containers if not u.container.running)


def disk_usage(store: Store) -> Usage:
    g, sizes = graph(store), layer_sizes(store)
    rows = views.image_rows(g, False, sizes=sizes)
    listed = {r.id for r in rows}
    shown = [img for img in g.images if img.id in listed]
    refs = Counter(chain for img in shown for chain in img.facts.chain_ids)
    every = {
        chain: sizes(diff_id)
        for img in g.images
        for chain, diff_id in zip(img.facts.chain_ids, img.facts.diff_ids, strict=True)
    }
    boxes = Containers(store).all()
    used = Counter(c.image_id for c in boxes)
    shared = {img.id: sum(every[ch] for ch in img.facts.chain_ids if refs[ch] > 1) for img in shown}
    sizes.save()
    images = [ImageUsage(r, shared[r.id], r.size - shared[r.id], used[r.id]) for r in rows]
    containers = [ContainerUsage(c, tree_size(c.dir)) for c in reversed(boxes)]
    return Usage(images, sum(every.values()), containers)
