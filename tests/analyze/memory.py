"""Images held in memory for analysis tests: layers as bytes, a config that lists them."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO

from lamina.image import Image, Layer
from lamina.ops.analyze import Analysis, analyze
from lamina.spec import Config
from tests.layer.stacks import E, layer_bytes


def image_of(layers: Sequence[bytes]) -> Image:
    made = tuple(
        Layer(
            "sha256:" + hashlib.sha256(b).hexdigest(),
            "sha256:" + hashlib.sha256(b).hexdigest(),
            len(b),
            "application/vnd.oci.image.layer.v1.tar",
            lambda b=b: io.BytesIO(b),
        )
        for b in layers
    )
    doc = {
        "rootfs": {"type": "layers", "diff_ids": [x.diff_id for x in made]},
        "history": [{"created_by": f"step {i}"} for i in range(len(made))],
    }
    return Image(Config.parse(json.dumps(doc).encode()), made)


@contextmanager
def open_tar(layer: Layer) -> Iterator[BinaryIO]:
    with layer.open_blob() as f:
        yield f


def analyse(stack: Sequence[Sequence[E]], **kw: object) -> Analysis:
    """Analyse a stack of hand-built layers (tests/layer/stacks.py entries)."""
    layers = [layer_bytes(entries) for entries in stack]
    return analyze(image_of(layers), open_tar, **kw)  # type: ignore[arg-type]
