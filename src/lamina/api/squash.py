"""Verbs that reshape images: squash, flatten, rebase, and diff to check the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from lamina import reference
from lamina.api.lookup import graph
from lamina.errors import UsageError
from lamina.image import Image, Layer
from lamina.ops import compare
from lamina.ops import rebase as rebase_op
from lamina.ops import squash as squash_op
from lamina.ops.squash import LayerSpec, Range
from lamina.progress import Progress
from lamina.store.base import find_base
from lamina.store.graph import Graph, resolve
from lamina.store.local import Store, StoredImage, Transaction


@dataclass(frozen=True)
class Reshaped:
    """The image `squash`, `flatten` or `rebase` made: ID, name, range, layer counts."""

    id: str
    name: str  # the tag it got, or ""
    squashed: Range | None  # the layers that became one (None for rebase)
    layers_before: int
    layers_after: int
    unchanged: str = ""  # why nothing was done (the image is the input, maybe newly named)


def _index_of(store: Store) -> compare.IndexOf:
    """Layers' header indexes from the store's cache (rebuilt there when lost)."""
    return lambda layer, stream: store.indexes.get(layer.diff_id, stream)


def _open_seekable(store: Store) -> compare.OpenSeekable:
    def open_layer(layer: Layer) -> BinaryIO:
        return open(store.layer_path(layer.diff_id), "rb")

    return open_layer


def _commit(tx: Transaction, image: Image, tag: str | None) -> str:
    """Put the result in the store, named `tag` or kept as <none>; returns the name."""
    name = reference.parse(tag).familiar if tag else ""
    tx.keep(tx.put_image(image), name)
    return name


def squash_range(
    g: Graph, ref: str, *, base: str | None = None, layers: LayerSpec | None = None
) -> tuple[StoredImage, Range]:
    """Which layers `squash` would squash: --layers, else above --base, else above the base."""
    img = resolve(g.images, ref)
    count = len(img.image.layers)
    if layers is not None and base is not None:
        raise UsageError(
            "give a base or a layer range, not both", command="drop --base or --layers"
        )
    if layers is not None:
        return img, squash_op.parse_range(layers, count)
    if base is not None:
        base_img = resolve(g.images, base)
        if not rebase_op.is_layer_prefix(base_img.image, img.image) or base_img.id == img.id:
            raise UsageError(
                f"{base} is not a base of {ref}: its layers are not a proper prefix of {ref}'s",
                "name a base whose layers start the image's, or a layer range",
                command="see `lamina tree` for the stack, or use --layers A..B",
            )
        start = len(base_img.image.layers)
    else:
        found = find_base(g, img)
        if found is None:
            raise UsageError(
                f"no base is known for {ref} (no tagged ancestor, no base annotation)",
                "name a base image or a layer range (0..-1 squashes all)",
                command="name one with --base IMAGE, or use --layers A..B",
            )
        start = found.layer_count
    return img, Range(min(start, count), count)


def nothing_to_squash(ref: str, span: Range, layers: LayerSpec | None) -> str:
    """Why the default squash has nothing to do ("" when it has): one layer or none
    above the base stays as it is - squashing it would only make a new ID."""
    if layers is not None or span.count > 1:
        return ""
    above = "no layers" if span.count == 0 else "one layer"
    return f"nothing to squash: {ref} has {above} above its base"


def squash(
    store: Store,
    ref: str,
    *,
    base: str | None = None,
    layers: LayerSpec | None = None,
    tag: str | None = None,
    message: str = "",
    progress: Progress | None = None,
) -> Reshaped:
    """Squash a contiguous range of an image's layers into one; the rest stay as they are."""
    img, span = squash_range(graph(store), ref, base=base, layers=layers)
    count = len(img.image.layers)
    if why := nothing_to_squash(ref, span, layers):
        name = ""
        if tag:
            with store.transaction() as tx:
                name = _commit(tx, img.image, tag)
        return Reshaped(img.id, name, None, count, count, unchanged=why)
    task = (progress or Progress.null()).task(f"Squashing layers {span}", None)
    with store.transaction() as tx:
        result = squash_op.squash(
            img.image, span, tx, _open_seekable(store), message=message, index_of=_index_of(store)
        )
        name = _commit(tx, result, tag)
    task.done()
    return Reshaped(result.id, name, span, len(img.image.layers), len(result.layers))


def flatten(
    store: Store,
    ref: str,
    *,
    tag: str | None = None,
    message: str = "",
    progress: Progress | None = None,
) -> Reshaped:
    """All layers into one; the config (env, cmd, ...) is kept."""
    return squash(
        store, ref, layers="0..-1", tag=tag, message=message or "flattened", progress=progress
    )


def rebase(
    store: Store, ref: str, onto: str, *, base: str | None = None, tag: str | None = None
) -> Reshaped:
    """Move the layers above `base` (default: the image's base) onto `onto`."""
    g = graph(store)
    img = resolve(g.images, ref)
    new_base = resolve(g.images, onto)
    if base is not None:
        old_base = resolve(g.images, base)
    else:
        found = find_base(g, img)
        if found is None:
            raise UsageError(
                f"no base is known for {ref}", "name its base", command="name it with --base IMAGE"
            )
        old_base = found.image
    with store.transaction() as tx:
        result = rebase_op.rebase(img.image, old_base.image, new_base.image)
        name = _commit(tx, result, tag)
    return Reshaped(result.id, name, None, len(img.image.layers), len(result.layers))


def diff(
    store: Store,
    first: str,
    second: str,
    *,
    mtime: bool = False,
    progress: Progress | None = None,
) -> list[compare.Change]:
    """How the final filesystems of two images differ (empty list: identical)."""
    images = store.images()
    a, b = resolve(images, first), resolve(images, second)
    task = (progress or Progress.null()).task(f"Comparing {first} with {second}", None)
    changes = compare.compare(
        a.image, b.image, _open_seekable(store), mtime=mtime, index_of=_index_of(store)
    )
    task.done()
    return changes
