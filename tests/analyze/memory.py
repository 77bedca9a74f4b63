"""Images held in memory for analysis tests: the kit's layers and config, as lamina values."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO

from lamina import mediatype
from lamina.image import Image, Layer
from lamina.ops.analyze import Analysis, analyze
from lamina.spec import Config
from tests.kit.image import FakeImage, sha
from tests.kit.layers import E, layer_bytes


def image_of(layers: Sequence[bytes]) -> Image:
    made = tuple(
        Layer(sha(b), sha(b), len(b), mediatype.OCI_LAYER, lambda b=b: io.BytesIO(b))
        for b in layers
    )
    return Image(Config.parse(FakeImage(list(layers)).config()), made)


@contextmanager
def open_tar(layer: Layer) -> Iterator[BinaryIO]:
    with layer.open_blob() as f:
        yield f


def analyse(stack: Sequence[Sequence[E]], **kw: object) -> Analysis:
    """Analyse a stack of hand-built layers (tests/kit/layers.py entries)."""
    layers = [layer_bytes(entries) for entries in stack]
    return analyze(image_of(layers), open_tar, **kw)  # type: ignore[arg-type]
