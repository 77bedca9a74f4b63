"""A container's filesystem: an image's layers applied under the store, plus a snapshot.

    materialise(store, image, STORE/lamina/containers/.new-ID)  ->  rootfs/ + snapshot

Layers are applied in order with whiteouts honoured and nothing written outside
`rootfs/` (layer/apply.py); every layer is re-hashed on the second core while it is
applied, so a blob damaged in the store fails the create. The snapshot records the
state right after, so `commit` can later tell what the container changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from lamina import digest
from lamina.containers import sandbox
from lamina.image import Image
from lamina.layer.apply import apply_layers
from lamina.layer.snapshot import snapshot
from lamina.progress import Progress, Task
from lamina.store.local import Store


def materialise(
    store: Store, image: Image, where: Path, progress: Progress | None = None
) -> tuple[str, ...]:
    """Apply `image` under `where`/rootfs and save its snapshot; returns what could not be
    reproduced here (e.g. file owners when not root). `progress` counts the layers' bytes."""
    rootfs = where / "rootfs"
    with ExitStack() as stack:
        files = [stack.enter_context(open(store.layer_path(x.diff_id), "rb")) for x in image.layers]
        pairs = zip(image.layers, files, strict=True)
        check = stack.enter_context(  # stopped before the files close
            digest.BackgroundCheck([(x.diff_id, f.fileno()) for x, f in pairs])
        )
        sizes = [os.fstat(f.fileno()).st_size for f in files]
        task = (progress or Progress.null()).task("Creating the container's files", sum(sizes))
        report = apply_layers(_advancing(files, sizes, task), rootfs)
        task.done()
        check.finish()  # a damaged layer fails the create (the staging dir is removed)
    sandbox.make_mount_points(rootfs)
    snapshot(rootfs).save(where / "snapshot")
    return tuple(report.lines())


def _advancing(files: Sequence[BinaryIO], sizes: list[int], task: Task) -> Iterator[BinaryIO]:
    """The layers in turn; each counts as done when the next one is asked for."""
    for f, size in zip(files, sizes, strict=True):
        yield f
        task.advance(size)
