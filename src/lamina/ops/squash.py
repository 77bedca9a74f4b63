"""Selective squash: any contiguous range of layers becomes one (docs/design.md §7).

Layers below the range are kept byte for byte (same digests: still shared with the
base), layers above it too. The new layer is the filesystem at the top of the range
as a diff against the filesystem at its bottom (lamina.layer.squash does that part).
The history keeps every original entry, those of the squashed layers marked
`empty_layer`, plus one entry saying what was squashed; its timestamp is the last
squashed entry's, so the same input always gives the same image ID.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO

from lamina import atomic, digest, mediatype
from lamina.errors import UsageError
from lamina.image import Image, Layer, LayerSink
from lamina.layer import tree
from lamina.layer.indexfile import IndexBuilder
from lamina.layer.squash import Below, squash_layers
from lamina.ops.compare import IndexOf
from lamina.ops.history import layer_positions, raw_history, with_layers
from lamina.spec import Config

# Opens a layer as a seekable, uncompressed tar file (the store's blob file).
OpenSeekable = Callable[[Layer], BinaryIO]

_RANGE = re.compile(r"^(-?\d+)?\.\.(-?\d+)?$")


@dataclass(frozen=True)
class Range:
    """Layers [start, stop) of an image, 0 = bottom."""

    start: int
    stop: int

    def __str__(self) -> str:
        return f"{self.start}..{self.stop - 1}"

    @property
    def count(self) -> int:
        return self.stop - self.start


# Which layers: "A..B" as the CLI takes it, (A, B) with the same inclusive meaning, or a Range.
LayerSpec = str | tuple[int, int] | Range


def parse_range(spec: LayerSpec, layer_count: int) -> Range:
    """`A..B`, inclusive, 0-based from the bottom; negatives count from the top (-1 = top).

    Either end may be left out: `2..` is layer 2 to the top, `..-2` the bottom to the
    layer below the top. `(A, B)` means `A..B`; a Range is checked against the image.
    """
    if isinstance(spec, Range):
        return _span(spec.start, spec.stop - 1, layer_count, str(spec))
    if isinstance(spec, tuple):
        if len(spec) != 2 or not all(isinstance(n, int) for n in spec):
            raise UsageError(f"bad layer range {spec!r}", "give (first, last), e.g. (1, -1)")
        return _span(spec[0], spec[1], layer_count, f"{spec[0]}..{spec[1]}")
    if not isinstance(spec, str):
        raise UsageError(f"bad layer range {spec!r}", "give 'A..B', (A, B) or a Range")
    match = _RANGE.match(spec.strip())
    if not match:
        raise UsageError(f"bad layer range {spec!r}", "use A..B, e.g. 1..-1 (0 = bottom, -1 = top)")
    first = int(match.group(1)) if match.group(1) else 0
    last = int(match.group(2)) if match.group(2) else -1
    return _span(first, last, layer_count, spec)


def _span(first: int, last: int, layer_count: int, text: str) -> Range:
    start = first + layer_count if first < 0 else first
    stop = (last + layer_count if last < 0 else last) + 1
    if not (0 <= start < stop <= layer_count):
        raise UsageError(
            f"layer range {text!r} is outside the image's {layer_count} layers or empty",
            f"valid indexes are 0..{layer_count - 1} (or -{layer_count}..-1)",
        )
    return Range(start, stop)


def squash(
    image: Image,
    span: Range,
    sink: LayerSink,
    open_seekable: OpenSeekable,
    *,
    message: str = "",
    index_of: IndexOf | None = None,
) -> Image:
    """A new image whose layers `span` are squashed into one.

    Writes only the new layer, into `sink` (adopted under its diff_id); the image is a
    value, its config and manifest are written where the caller puts it
    (Transaction.put_image, an archive writer). `index_of` gives the layers' header
    indexes (the store's cache): the layers below the range are then not read at all
    unless a hardlink needs a file's content from them.
    """
    layers = image.layers
    # the new layer's index, made as it is written (no read back), spilled to the sink's
    # staging area past its bound: kept until the sink has adopted it
    with ExitStack() as stack, IndexBuilder(sink.staging_file) as index:
        streams = [stack.enter_context(open_seekable(layer)) for layer in layers[: span.stop]]
        # the range's layers are re-hashed; those below only lend headers (and, rarely,
        # a hardlinked file's content) and stay as they are in the new image
        verifier = stack.enter_context(  # stopped before the streams close
            digest.BackgroundCheck(
                [
                    (x.diff_id, f.fileno())
                    for x, f in zip(
                        layers[span.start : span.stop], streams[span.start :], strict=True
                    )
                ]
            )
        )
        lower_index = upper_index = None
        if index_of is not None:
            lower_index = _from(index_of, layers, 0)
            upper_index = _from(index_of, layers, span.start)
        lower = streams[: span.start]
        below = Below.layers(lower, lower_index) if span.start else Below.nothing()
        tmp = sink.staging_file()
        with atomic.written_once(tmp) as out:  # the fsync below finds it mostly on disk
            diff_id, size = squash_layers(
                streams[span.start :], out, below=below, index_of=upper_index, index=index
            )
            out.flush()
            os.fsync(out.fileno())  # on disk before the store renames it into place
        verifier.finish()
        stack.close()  # the layers, before the sink takes the new one
        sink.adopt(tmp, diff_id, index)
    new_layer = Layer(diff_id, diff_id, size, mediatype.OCI_LAYER, lambda: sink.open_blob(diff_id))
    config = squashed_config(image, span, diff_id, message)
    new_layers = (*layers[: span.start], new_layer, *layers[span.stop :])
    return Image(config, new_layers, image.names, image.annotations)


def _from(index_of: IndexOf, layers: Sequence[Layer], start: int) -> tree.IndexOf:
    """`index_of` for the layers from `start` on, by position (as layer.tree asks)."""
    return lambda i, stream: index_of(layers[start + i], stream)


def squashed_config(image: Image, span: Range, diff_id: str, message: str) -> Config:
    config = image.config
    diff_ids = list(config.diff_ids)
    squashed = diff_ids[span.start : span.stop]
    diff_ids[span.start : span.stop] = [diff_id]
    history = raw_history(config)
    positions = layer_positions(history, len(image.layers))
    covered = [positions[i] for i in range(span.start, span.stop) if i < len(positions)]
    for index in covered:
        history[index]["empty_layer"] = True
    insert_at = covered[-1] + 1 if covered else len(history)
    created = history[covered[-1]].get("created") if covered else None
    entry: dict[str, object] = {
        "created_by": f"lamina squash --layers {span}",
        "comment": message
        or f"squashed {span.count} layers: " + ", ".join(digest.short(d) for d in squashed),
    }
    if created or config.created:  # Docker refuses an empty timestamp: leave it out
        entry["created"] = created or config.created
    history.insert(insert_at, entry)
    return with_layers(config, diff_ids, history)
