"""`squash -i ARCHIVE -o OUT`: squash an image of an archive, no store (docs/design.md §7).

The archive's images are values; the layers squash reads are made plain files in a
scratch dir, the new layer goes to a BlobDir there, and the result is written as
`save` writes it: the same bytes as squashing in a store and saving. Apart from
lamina.api.squash so that the store's squash does not import the archive machinery.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from lamina import atomic, reference
from lamina.api.squash import Reshaped, nothing_to_squash, squash_range
from lamina.errors import UsageError
from lamina.image import Image
from lamina.ops import compare
from lamina.ops import expand as expander
from lamina.ops import squash as squash_op
from lamina.ops.squash import LayerSpec
from lamina.progress import Progress
from lamina.store.cas import BlobDir
from lamina.store.graph import Graph
from lamina.store.ingest import find_missing, missing_error
from lamina.store.local import StoredImage
from lamina.transports import archive_writer
from lamina.transports.sources import open_archive, read_images


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
            why = nothing_to_squash(image, span, layers)
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
