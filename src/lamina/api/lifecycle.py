"""Verbs that turn containers into images and tars: commit, export, import.

- commit: what changed in a container since its snapshot becomes one new layer (with
  whiteouts for what was deleted) on top of the container's image, with a history
  entry like Docker's; prints as `docker commit` does (the new image ID).
- export: a container's whole filesystem as one tar.
- import: a tar (plain, gzip or zstd) as a one-layer image, history reset to one
  entry; entries that would land outside the root are refused.
Each image is written in one store transaction: all of it, or none of it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lamina import digest, reference
from lamina.api.containers import (
    Created,
    container_prune,
    cp,
    create,
    get_container,
    ps,
    rm,
    run,
)

# the container verbs are re-exported here, so lamina.api takes the lifecycle in one import
from lamina.api.lookup import Names, as_names
from lamina.atomic import output
from lamina.containers.records import Container, Containers, rfc3339_now
from lamina.errors import InvalidInputError, NotFoundError, UsageError
from lamina.image import Image
from lamina.layer import compression, fsdiff
from lamina.layer.indexfile import IndexBuilder
from lamina.layer.snapshot import Snapshot
from lamina.layer.tarcheck import CheckedTar
from lamina.ops.commit import EMPTY_TAR_DIFF_ID, child_config, imported_config
from lamina.progress import Counted, Progress
from lamina.spec import Config
from lamina.store.local import Store, Transaction

__all__ = [
    "Container",
    "Created",
    "commit",
    "container_prune",
    "cp",
    "create",
    "export",
    "get_container",
    "import_tar",
    "ps",
    "rm",
    "run",
]


def _image_name(name: str | None) -> str | None:
    """The familiar form of the name to give a new image (None: leave it unnamed)."""
    if not name:
        return None
    parsed = reference.parse(name)
    if parsed.digest:
        raise UsageError(f"cannot name an image with a digest reference {name!r}")
    return parsed.familiar


def _store_image(tx: Transaction, config_raw: bytes, name: str | None) -> str:
    """Put the image whose layers are in `tx` already; name it or keep it as <none>."""
    config = Config.parse(config_raw)
    image = Image(config, tuple(tx.layer(diff_id) for diff_id in config.diff_ids))
    tx.keep(tx.put_image(image), name)
    return config.id


# -- commit ----------------------------------------------------------------------------


def commit(
    store: Store,
    container: str,
    name: str | None = None,
    *,
    message: str = "",
    author: str = "",
    changes: Names = (),
) -> str:
    """Record what changed in `container` as a new image named `name` (or none); returns
    its ID (sha256:...)."""
    name = _image_name(name)
    c = Containers(store).find(container)
    try:
        parent = Config.parse(store.blobs.read_bytes(c.image_id))
    except NotFoundError:
        raise NotFoundError(
            f"the image of container {c.name} ({digest.short(c.image_id)}) is gone from the store"
        ) from None
    try:
        tmp, diff_id = _diff_to_temp(store, c)
    except FileNotFoundError:
        if c.dir.exists():
            raise
        raise NotFoundError(
            f"container {c.name} was removed while it was being committed"
        ) from None
    try:
        config_raw = child_config(
            parent,
            diff_id=diff_id,
            container_id=c.id,
            container_conf=c.config,
            created=rfc3339_now(),
            author=author,
            comment=message,
            changes=as_names(changes),
        )
        with store.transaction() as tx:
            if diff_id != EMPTY_TAR_DIFF_ID:
                tx.adopt(tmp, diff_id)
            return _store_image(tx, config_raw, name)
    finally:
        tmp.unlink(missing_ok=True)


def _diff_to_temp(store: Store, c: Container) -> tuple[Path, str]:
    """The container's changes as a layer tar in the store's temp dir, and its diff_id."""
    snap = Snapshot.read(c.snapshot)
    tmp = store.tmp / f".commit-{digest.short(c.id)}-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            diff_id, _ = fsdiff.diff_to_layer(c.rootfs, snap, f, fsdiff.user_as_root())
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, diff_id


# -- export ----------------------------------------------------------------------------


def export(
    store: Store, container: str, out: BinaryIO | str | Path, progress: Progress | None = None
) -> None:
    """Write the container's filesystem as one tar to a stream or a file."""
    c = Containers(store).find(container)
    task = (progress or Progress.null()).task(f"Exporting {c.name}", None)
    with output(out) as f:
        fsdiff.export_tree(c.rootfs, Counted(f, task), fsdiff.user_as_root())  # type: ignore[arg-type]
    task.done()


# -- import ----------------------------------------------------------------------------


def import_tar(
    store: Store,
    source: str | None = None,
    name: str | None = None,
    *,
    message: str = "",
    changes: Names = (),
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
) -> str:
    """A one-layer image named `name` (or none) from a tar (a path, or None/"-" for stdin);
    returns its ID."""
    name = _image_name(name)
    label = "standard input" if source in (None, "-") else str(source)
    with _opened(source, stdin) as raw:
        total = os.fstat(raw.fileno()).st_size if source not in (None, "-") else None
        task = (progress or Progress.null()).task(f"Importing {label}", total)
        _, plain = compression.auto_decompressed(Counted(raw, task))  # type: ignore[arg-type]
        # the layer's header index is filled as it streams in (no second read of it)
        with store.transaction() as tx, IndexBuilder(tx.staging_file) as index:
            checked = CheckedTar(plain, label, index=index)
            try:
                diff_id, size = tx.put_blob(checked, index=index)  # type: ignore[arg-type]
            except compression.DECOMPRESSION_ERRORS as exc:
                if not compression.damaged(exc):
                    raise
                raise InvalidInputError(f"{label} is truncated or corrupt ({exc})") from None
            if size == 0:
                raise InvalidInputError(f"{label} is empty", "import needs a tar archive")
            config_raw = imported_config(
                diff_id, created=rfc3339_now(), comment=message, changes=as_names(changes)
            )
            task.done()
            return _store_image(tx, config_raw, name)


@contextlib.contextmanager
def _opened(source: str | None, stdin: BinaryIO | None) -> Iterator[BinaryIO]:
    if source in (None, "-"):
        yield stdin or sys.stdin.buffer
        return
    assert source is not None
    try:
        f = open(source, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise NotFoundError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{source} is a directory", "import takes a tar file") from None
    with f:
        yield f
