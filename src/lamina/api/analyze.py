"""The analyze verb: what each layer of an image costs, and which squash saves the most.

An image from the store (`analyze`) or from an archive (`analyze_archive`, read in
place: nothing is loaded into a store). The base, whose layers the advisor keeps, is
found as `squash` finds it (docs/design.md §2): for an archive, among the archive's own
images or by its annotations. The numbers are explained in ops/analyze.py.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, cast

from lamina import digest
from lamina.api.lookup import graph
from lamina.errors import InvalidInputError, UsageError
from lamina.image import Layer
from lamina.layer import compression
from lamina.ops.analyze import Analysis, OpenTar
from lamina.ops.analyze import analyze as analyze_op
from lamina.store.base import Base, find_base
from lamina.store.graph import Graph, resolve
from lamina.store.local import Store, StoredImage
from lamina.transports.sources import open_archive, read_images


@dataclass(frozen=True)
class Report:
    """`analyze`'s findings on one image: its base, the layer analysis, and squash advice."""

    ref: str  # the image as the caller named it
    id: str
    names: tuple[str, ...]
    base: str  # the base image's name (or short ID); "" when none is known
    base_source: str  # "annotation", "ancestor" or ""
    analysis: Analysis
    commands: tuple[str, ...]  # the squash command for each piece of advice
    source: str | None = None  # the archive, when the image came from one


def analyze(
    store: Store,
    ref: str,
    *,
    layer: int | None = None,
    top: int = 10,
    advise: int = 3,
    shown_as: str | None = None,
) -> Report:
    """Analyse an image of the store; `layer` (negative: from the top) lists its changes.
    `shown_as` is the name the advised commands use (e.g. docker-daemon:NAME)."""
    g = graph(store)
    img = resolve(g.images, ref)

    @contextmanager
    def open_tar(x: Layer) -> Iterator[BinaryIO]:
        with open(store.layer_path(x.diff_id), "rb") as f:
            yield f

    report = _analyze(g, img, ref, open_tar, layer, top, advise)
    commands = tuple(
        shlex.join(["lamina", "squash", shown_as or ref, "--layers", str(a.span)])
        for a in report.analysis.advice
    )
    return _with_commands(report, commands)


def analyze_archive(
    source: str,
    *,
    image: str | None = None,
    layer: int | None = None,
    top: int = 10,
    advise: int = 3,
) -> Report:
    """Analyse an image of an archive (docker-archive, oci-archive, OCI layout; `-`
    reads stdin); `image` picks one of several (default: the only one)."""
    with (
        tempfile.TemporaryDirectory(prefix="lamina-analyze-") as scratch,
        open_archive(source, Path(scratch)) as fs,
    ):
        stored = [StoredImage.of(i) for i in read_images(fs)]
        if image is None:
            if len(stored) != 1:
                raise UsageError(f"{source} holds {len(stored)} images", "name one with IMAGE")
            picked = stored[0]
        else:
            picked = resolve(stored, image)
        ref = image or (picked.names[0] if picked.names else digest.short(picked.id))

        @contextmanager
        def open_tar(x: Layer) -> Iterator[BinaryIO]:
            if not x.available:
                raise InvalidInputError(
                    f"{source} leaves out layer {digest.short(x.diff_id)} (a delta archive)",
                    "expand it first, with the store or archive that holds its base",
                    command="run `lamina expand` on it",
                )
            blob = x.open_blob()
            try:
                kind, stream = compression.auto_decompressed(blob)
                if not kind and blob.seekable():
                    blob.seek(0)
                    yield blob  # plain: file data is seeked over, never read
                else:
                    yield cast(BinaryIO, _ReadThrough(stream))
            finally:
                blob.close()

        report = _analyze(Graph.build(stored), picked, ref, open_tar, layer, top, advise)
    out = Path(source).stem + "-squashed.tar" if source != "-" else "squashed.tar"
    pick = [image] if image else []
    commands = tuple(
        shlex.join(["lamina", "squash", "-i", source, "-o", out, *pick, "--layers", str(a.span)])
        for a in report.analysis.advice
    )
    return _with_commands(report, commands, source)


def _analyze(
    g: Graph,
    img: StoredImage,
    ref: str,
    open_tar: OpenTar,
    layer: int | None,
    top: int,
    advise: int,
) -> Report:
    count = len(img.image.layers)
    focus = _layer_index(layer, count) if layer is not None else None
    base: Base | None = find_base(g, img)
    base_layers = base.layer_count if base is not None else 0
    result = analyze_op(
        img.image, open_tar, base_layers=base_layers, focus=focus, top=top, advise=advise
    )
    base_name = ""
    if base is not None:
        base_name = base.image.names[0] if base.image.names else digest.short(base.image.id)
    return Report(ref, img.id, img.names, base_name, base.source if base else "", result, (), None)


def _with_commands(report: Report, commands: tuple[str, ...], source: str | None = None) -> Report:
    return replace(report, commands=commands, source=source)


class _ReadThrough:
    """A decompressing stream, read straight through (gzip readers claim to seek)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.read = stream.read

    def seekable(self) -> bool:
        return False


def _layer_index(layer: int, count: int) -> int:
    index = layer + count if layer < 0 else layer
    if not 0 <= index < count:
        raise UsageError(
            f"layer {layer} is outside the image's {count} layers",
            f"valid indexes are 0..{count - 1} (or -{count}..-1)",
        )
    return index
