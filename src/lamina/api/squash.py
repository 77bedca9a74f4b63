"""Verbs that reshape images: squash, flatten, rebase, and diff to check the result."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from lamina import atomic, reference
from lamina.api.lookup import graph
from lamina.errors import UsageError
from lamina.image import Image, Layer
from lamina.ops import compare
from lamina.ops import expand as expander
from lamina.ops import rebase as rebase_op
from lamina.ops import squash as squash_op
from lamina.ops.squash import LayerSpec, Range
from lamina.progress import Progress
from lamina.store.base import find_base
from lamina.store.cas import BlobDir
from lamina.store.graph import Graph, resolve
from lamina.store.ingest import find_missing, missing_error
from lamina.store.local import Store, StoredImage, Transaction
from lamina.transports import archive_writer
from lamina.transports.sources import open_archive, read_images


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


def _nothing(ref: str, span: Range, layers: LayerSpec | None) -> str:
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
    if why := _nothing(ref, span, layers):
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


def squash_archive(
    source: str,
    output: str | Path,
    *,
    image: str | None = None,
    base: str | None = None,
    layers: LayerSpec | None = None,
    tag: str | None = None,
    message: str = "",
    progress: Progress | None = None,
) -> Reshaped:
    """Squash an image of an archive into a new archive; no store is involved.

    `image` picks one of several images (default: the only one); its base is found
    among the archive's other images or its annotations, unless --base/--layers say.
    The result is named `tag`, else the name it had; it is written as `save` writes
    it (uncompressed layers). Scratch files live in a temp dir, removed at the end.
    """
    scratch = Path(tempfile.mkdtemp(prefix="lamina-squash-"))
    task = (progress or Progress.null()).task(f"Squashing {image or 'the image'} of {source}", None)
    try:
        with open_archive(source, scratch) as fs:
            found = [StoredImage.of(i) for i in read_images(fs)]
            if image is None:
                if len(found) != 1:
                    raise UsageError(f"{source} holds {len(found)} images", "name one with IMAGE")
                image = found[0].names[0] if found[0].names else found[0].id
            img, span = squash_range(Graph.build(found), image, base=base, layers=layers)
            img.image.check_consistent()
            if missing := find_missing([img.image], lambda _: False):
                raise missing_error(missing)  # a delta archive: there is no store to fill in
            why = _nothing(image, span, layers)
            plain = _plain_files(img.image, len(img.image.layers) if why else span.stop, scratch)
            result = (
                plain
                if why  # written unchanged: a script's next step finds its output
                else squash_op.squash(
                    plain, span, BlobDir(scratch / "new"), _open_files(plain), message=message
                )
            )
            names = [reference.parse(tag).familiar] if tag else list(img.names[:1])
            with atomic.output(output) as f:
                archive_writer.write_archive([result.with_names(names)], f)
        task.done()
        name = names[0] if names else ""
        done = None if why else span
        return Reshaped(result.id, name, done, len(plain.layers), len(result.layers), why)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _plain_files(image: Image, stop: int, scratch: Path) -> Image:
    """The image with every layer uncompressed, verified against its diff_id and
    tar-checked as load checks it; those below `stop` (which squash reads at random)
    copied into files of their own."""
    layers = tuple(
        expander.plain_file(x, scratch, checked=True)
        if i < stop
        else expander.plain(x, scratch, checked=True)
        for i, x in enumerate(image.layers)
    )
    return replace(image, layers=layers)


def _open_files(image: Image) -> compare.OpenSeekable:
    """Layers of _plain_files' images, opened as the files they are."""
    by_diff_id = {x.diff_id: x for x in image.layers}
    return lambda layer: by_diff_id[layer.diff_id].open_blob()
