"""Delta verbs: inventory (what a recipient has) and expand (a delta made whole)
(docs/design.md §6).

A delta archive lists every layer of its images but carries only the files of the
layers the recipient lacks. Saving one is `save` with what the recipient has: that
path (choosing, planning, writing) is api/save.py, re-exported here as `save_delta`.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from dataclasses import dataclass, replace

from lamina.api.save import Output, Saved, save_delta
from lamina.api.save import plan as plan_delta
from lamina.atomic import output
from lamina.image import Image, Layer
from lamina.ops import expand as expander
from lamina.ops.rebuild import rebuild
from lamina.progress import Progress
from lamina.store.inventory import Inventory
from lamina.store.local import Store
from lamina.transports import archive_patches, archive_writer
from lamina.transports.sources import open_archive, read_images

__all__ = ["Expanded", "Saved", "expand", "inventory", "plan_delta", "save_delta"]


def inventory(store: Store) -> Inventory:
    """What the store holds: layers by chain ID, images with their tags, and the patch
    versions its `load` rebuilds."""
    return replace(Inventory.of_images(store.images()), patches=archive_patches.READS)


# -- expand ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expanded:
    """What `expand` wrote: the images, complete, and the layers it filled in."""

    images: tuple[Image, ...]
    filled: tuple[Layer, ...]  # the layers the delta left out, now present
    bytes: int


def expand(
    store: Store,
    source: str,
    out: Output,
    *,
    base_archive: str | None = None,
    progress: Progress | None = None,
) -> Expanded:
    """Write the delta archive `source` as a complete archive (a full save's format).

    Missing layers come from the store, else from `base_archive`; layers the delta
    carries as patches are rebuilt against references from the same places; every
    layer is verified against its diff_id on the way. For podman, skopeo and plain
    `docker load`, which refuse archives with missing files or patches.
    """
    scratch = store.scratch_dir()
    try:
        with ExitStack() as stack:
            fs = stack.enter_context(open_archive(source, scratch))
            images = listed = read_images(fs)
            sources: list[expander.LayerSource] = [_store_source(store)]
            if base_archive is not None:
                base_fs = stack.enter_context(open_archive(base_archive, scratch))
                sources.append(expander.archive_source(read_images(base_fs), scratch))
            patches = archive_patches.read(fs)
            if patches:  # rebuilt against the same sources, references checked first
                refs = expander.first_of([store.layer_in_place, *sources[1:]])
                images = rebuild(images, patches, refs, store.has_layer, scratch, progress)
            full = expander.fill(images, sources, scratch)
            with output(out) as f:
                n = archive_writer.write_archive(full, f, progress=progress)
        filled = {x.diff_id: x for i in listed for x in i.layers if not x.available}
        done = {x.diff_id: x for i in full for x in i.layers}
        return Expanded(tuple(full), tuple(done[d] for d in filled), n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _store_source(store: Store) -> expander.LayerSource:
    def lookup(diff_id: str) -> Layer | None:
        return store.layer(diff_id, diff_id) if store.has_layer(diff_id) else None

    return lookup
