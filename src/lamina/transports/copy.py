"""Copying images into a sink: the one place that owns ordering, reuse and omission.

Order: layers, then the config, then the manifest, so a reader never sees a
manifest whose blobs are not there. A layer the sink already holds (by diff_id)
is not read at all; a layer a delta archive left out must already be there.
Each layer is decompressed, hashed against its diff_id (and its compressed
digest when one is known) as it streams, never held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from lamina import digest, mediatype
from lamina.errors import InvalidInputError, MissingLayersError
from lamina.image import Image, Layer, LayerSink
from lamina.layer import compression
from lamina.layer.tarcheck import CheckedTar
from lamina.progress import Progress, Task
from lamina.spec import Descriptor

# the store's transaction is the sink images are copied into
StoreSink = LayerSink


@dataclass(frozen=True)
class Missing:
    image: Image
    layers: tuple[Layer, ...]


def find_missing(images: list[Image], has_layer: Callable[[str], bool]) -> list[Missing]:
    """Layers that images need, that their source does not carry and the sink lacks."""
    out = []
    for image in images:
        lacking = tuple(x for x in image.layers if not x.available and not has_layer(x.diff_id))
        if lacking:
            out.append(Missing(image, lacking))
    return out


def missing_error(missing: list[Missing]) -> MissingLayersError:
    parts = []
    for m in missing:
        who = ", ".join(m.image.names) or digest.short(m.image.id, algorithm=True)
        ids = ", ".join(digest.short(layer.diff_id, algorithm=True) for layer in m.layers)
        parts.append(f"{who} needs {ids}")
    return MissingLayersError(
        f"the archive leaves out layers this store does not have ({'; '.join(parts)})",
        "load the base image first, or ask the sender for a full save",
    )


class _Counting:
    """Reports progress on the bytes read and, when asked, hashes them on the way."""

    def __init__(self, stream: BinaryIO, task: Task, hash_it: bool) -> None:
        self._stream, self._task = stream, task
        self.hasher = digest.Hasher() if hash_it else None

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if self.hasher is not None:
            self.hasher.update(data)
        self._task.advance(len(data))
        return data


def _import_layer(layer: Layer, sink: StoreSink, task: Task) -> None:
    # a compressed blob has a digest of its own to check; a plain one is its diff_id,
    # which the sink checks anyway: hashing it here too would only cost time
    compressed = bool(layer.digest) and layer.digest != layer.diff_id
    with layer.open_blob() as blob:
        counted = _Counting(blob, task, hash_it=compressed)
        _, plain = compression.auto_decompressed(counted)  # type: ignore[arg-type]
        checked = CheckedTar(plain, f"layer {digest.short(layer.diff_id, algorithm=True)}")
        try:
            sink.put_blob(checked, expected=layer.diff_id)  # type: ignore[arg-type]
        except compression.DECOMPRESSION_ERRORS as exc:
            if not compression.damaged(exc):
                raise
            raise InvalidInputError(
                f"layer {digest.short(layer.diff_id, algorithm=True)} is truncated or corrupt "
                f"({exc})",
                "the archive is damaged; save or download it again",
            ) from None
        while counted.read(1 << 20):  # compressed trailers, so the blob digest covers all bytes
            pass
    if counted.hasher is not None:
        digest.check(layer.digest, counted.hasher.digest, f"layer blob {layer.digest}")


def import_image(
    image: Image, sink: StoreSink, progress: Progress | None = None
) -> tuple[Image, Descriptor]:
    """Copy `image` into `sink` in the store's form (uncompressed layers, OCI manifest)."""
    image.check_consistent()
    missing = find_missing([image], sink.has_blob)
    if missing:
        raise missing_error(missing)
    todo = [x for x in image.layers if not sink.has_blob(x.diff_id)]
    task = (progress or Progress.null()).task(
        f"Loading {image.names[0] if image.names else digest.short(image.id)}",
        sum(x.size for x in todo),
    )
    for layer in todo:
        if not sink.has_blob(layer.diff_id):
            _import_layer(layer, sink, task)
    task.done()
    sink.put_bytes(image.config.raw)
    layers = tuple(_stored_layer(x.diff_id, sink) for x in image.layers)
    stored = Image(image.config, layers, image.names, image.annotations)
    manifest = stored.manifest_bytes()
    mdig = sink.put_bytes(manifest)
    return stored, Descriptor(mediatype.OCI_MANIFEST, mdig, len(manifest))


def _stored_layer(diff_id: str, sink: StoreSink) -> Layer:
    return Layer(
        diff_id,
        diff_id,
        sink.blob_size(diff_id),
        mediatype.OCI_LAYER,
        lambda: sink.open_blob(diff_id),
    )
