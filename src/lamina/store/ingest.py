"""Bringing layers into the store's form: what Transaction.put_image runs per layer.

The store keeps layers uncompressed, named by their diff_id. `put_layer` streams one
layer (compressed or not, as its bytes say) into a sink: decompressed, hashed against
its diff_id by the sink and, when its compressed digest is known, that is checked too,
over every byte of the blob (trailers included). Never held in memory. Its header
index (store/headerindex.py) is filled from the headers as they go by, into the
caller's IndexBuilder (which spills past its bound: flat memory). A plain layer
spooled from a pipe (transports/spool.py) is checked and moved in, not copied again.
A layer a delta archive left out (not `available`) cannot be read: `find_missing`
names those the sink lacks, and `missing_error` says so in one line, before anything
is written.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from lamina import digest
from lamina.errors import InvalidInputError, MissingLayersError
from lamina.image import BlobSink, Image, Layer, LayerSink, Spool
from lamina.layer import compression
from lamina.layer.indexfile import IndexBuilder
from lamina.layer.tarcheck import CheckedTar
from lamina.progress import Task


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


def put_layer(layer: Layer, sink: BlobSink, task: Task, index: IndexBuilder) -> None:
    """Stream `layer` into `sink` uncompressed, verified (see module doc), filling the
    empty `index` with its header index."""
    if layer.spool is not None and _take_spool(layer, layer.spool, sink, task, index):
        return
    # a compressed blob has a digest of its own to check; a plain one is its diff_id,
    # which the sink checks anyway: hashing it here too would only cost time
    compressed = bool(layer.digest) and layer.digest != layer.diff_id
    with layer.open_blob() as blob:
        counted = _Counting(blob, task, hash_it=compressed)
        _, plain = compression.auto_decompressed(counted)  # type: ignore[arg-type]
        what = f"layer {digest.short(layer.diff_id, algorithm=True)}"
        checked = CheckedTar(plain, what, index=index)
        try:
            _, index.tar_size = sink.put_blob(checked, expected=layer.diff_id)  # type: ignore[arg-type]
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


def _take_spool(
    layer: Layer, spool: Spool, sink: BlobSink, task: Task, index: IndexBuilder
) -> bool:
    """Move an uncompressed layer's spool into `sink`, checked and not written again: its
    sha256 (computed as it was spooled) must be the diff_id (and the blob's digest), its
    bytes a valid layer tar (read back). False when it cannot be moved (a compressed
    blob, a sink with no staging area, another filesystem): the caller copies it then."""
    if not isinstance(sink, LayerSink):
        return False
    what = f"layer {digest.short(layer.diff_id, algorithm=True)}"
    with open(spool.path, "rb") as f:
        if compression.sniff(f.read(8)):
            return False
        f.seek(0)
        for expected in {layer.diff_id, layer.digest or layer.diff_id}:
            digest.check(expected, spool.digest, f"layer blob {expected}")
        checked = CheckedTar(f, what, index=index)
        while chunk := checked.read(digest.CHUNK):
            task.advance(len(chunk))
        index.tar_size = os.fstat(f.fileno()).st_size
        os.fsync(f.fileno())  # durable before it is renamed into the store
    target = sink.staging_file()
    try:
        os.replace(spool.path, target)
    except OSError as exc:
        target.unlink(missing_ok=True)
        if exc.errno == errno.EXDEV:
            return False
        raise
    sink.adopt(target, layer.diff_id)
    return True
