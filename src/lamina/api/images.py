"""Verbs on images in the store: load, save, tag, rmi, prune, images, history, inspect, tree."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lamina import reference
from lamina.api.base import get_image, graph
from lamina.containers.records import Containers
from lamina.errors import InvalidInputError, UsageError
from lamina.image import Image
from lamina.progress import Progress
from lamina.spec import Descriptor, Platform
from lamina.store import journal, views
from lamina.store.graph import Graph, resolve
from lamina.store.layersizes import LayerSizes
from lamina.store.local import Store, StoredImage, Transaction
from lamina.store.rules import Removal, prune
from lamina.transports import docker_archive, oci_layout
from lamina.transports.copy import find_missing, import_image, missing_error
from lamina.transports.sources import open_archive, read_images

SAVE_FORMATS = ("docker-archive", "oci-archive", "oci-dir")


# -- load ------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    id: str
    names: tuple[str, ...]
    replaced: tuple[tuple[str, str], ...]  # (name, id it pointed at before)
    new_layers: int


def load(
    store: Store,
    source: str | None = None,
    *,
    stdin: BinaryIO | None = None,
    platform: Platform | None = None,
    progress: Progress | None = None,
) -> list[Loaded]:
    """Load every image of an archive or OCI layout (None or "-": stdin) into the store.

    All-or-nothing: layers a delta archive leaves out must already be in the
    store, checked before anything is written; any failure leaves the store as it was.
    """
    with open_archive(source, store.tmp, stdin) as fs:
        images = read_images(fs, platform)
        if not images:
            raise InvalidInputError(f"{fs.label} holds no images")
        journal.pause_point("load-planned")
        with store.transaction() as tx:
            # what the store holds is decided under the lock only (an rmi may have run)
            missing = find_missing(images, tx.has_blob)
            if missing:
                raise missing_error(missing)
            return load_images(store, tx, images, progress)


def load_images(
    store: Store, tx: Transaction, images: list[Image], progress: Progress | None = None
) -> list[Loaded]:
    """Put read images into the store within `tx`, names and all (see `load`)."""
    results = []
    present = {img.manifest.digest: img for img in store.images()}
    counted: set[str] = set()  # layers counted as new for an earlier image of this load
    for image in images:
        new = {d for d in image.diff_ids if d not in counted and not store.has_layer(d)}
        counted |= new
        new_layers = len(new)
        manifest = _manifest_of(present, image.id)
        if manifest is None:
            _, manifest = import_image(image, tx, progress)
        replaced = []
        for name in image.names:
            old = tx.set_name(name, manifest)
            if old is not None and old in present:
                replaced.append((name, present[old].id))
        if not image.names:
            tx.add_root(manifest)
        results.append(Loaded(image.id, image.names, tuple(replaced), new_layers))
    return results


def _manifest_of(present: dict[str, StoredImage], image_id: str) -> Descriptor | None:
    """An image already in the store keeps its manifest: one manifest per image ID."""
    return next((img.manifest for img in present.values() if img.id == image_id), None)


# -- save ------------------------------------------------------------------------


def images_for(store: Store, refs: Sequence[str]) -> list[Image]:
    """Images to save, each named with the names the user gave them.

    As `docker save`: an image asked for by ID carries no name (RepoTags null); one
    asked for by name carries that name.
    """
    stored = store.images()
    chosen: dict[str, tuple[Image, list[str]]] = {}
    for text in refs:
        img = resolve(stored, text)
        ref = reference.try_parse(text)
        names = [ref.familiar] if ref is not None and ref.familiar in img.names else []
        entry = chosen.setdefault(img.id, (img.image, []))
        entry[1].extend(n for n in names if n not in entry[1])
    return [image.with_names(names) for image, names in chosen.values()]


def save(
    store: Store,
    refs: Sequence[str],
    out: BinaryIO | str | Path,
    *,
    fmt: str = "docker-archive",
    omit_layers: set[str] | None = None,
    exclude: Sequence[str] = (),
    exclude_base: bool = False,
    have: str | Path | None = None,
    progress: Progress | None = None,
) -> int:
    """Write images to `out` (a stream, a file path, or a directory for oci-dir); returns bytes.

    `exclude` (images), `exclude_base` (each image's base), `have` (an inventory
    file from the recipient) and `omit_layers` (diff_ids) make a delta archive:
    see lamina.api.delta.save_delta, which also reports what was left out.
    """
    if not refs:
        raise UsageError("save needs at least one image")
    if fmt not in SAVE_FORMATS:
        raise UsageError(f"unknown format {fmt!r}", f"use one of {', '.join(SAVE_FORMATS)}")
    if exclude or exclude_base or have is not None or omit_layers:
        if fmt != "docker-archive":
            raise UsageError(f"a delta archive is a docker-archive, not {fmt}", "drop --format")
        from lamina.api.delta import save_delta  # imported here: api.delta builds on this module

        return save_delta(
            store,
            refs,
            out,
            exclude=exclude,
            exclude_base=exclude_base,
            have=have,
            omit_layers=omit_layers,
            progress=progress,
        ).bytes
    images = images_for(store, refs)
    if fmt == "oci-dir":
        if not isinstance(out, (str, Path)):
            raise UsageError("oci-dir output needs a directory path", "pass -o DIR")
        return oci_layout.write_dir(images, Path(out))
    kind = "docker" if fmt == "docker-archive" else "oci"
    if isinstance(out, (str, Path)):
        return _save_to_path(images, Path(out), kind, omit_layers, progress)
    return docker_archive.write_archive(images, out, kind, omit_layers, progress)


def _save_to_path(
    images: list[Image], path: Path, kind: str, omit: set[str] | None, progress: Progress | None
) -> int:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            n = docker_archive.write_archive(images, f, kind, omit, progress)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


# -- names and removal ----------------------------------------------------------


def tag(store: Store, source: str, target: str) -> str:
    """Give an image another name; returns the familiar name it got."""
    name = reference.parse(target).familiar
    if reference.parse(target).digest:
        raise UsageError(f"cannot tag with a digest reference {target!r}")
    with store.transaction() as tx:
        img = get_image(store, source)
        tx.set_name(name, img.manifest)
    return name


def rmi(
    store: Store, refs: Sequence[str], *, force: bool = False, no_prune: bool = False
) -> list[str]:
    """Remove images by Docker's rules; returns Docker's Untagged:/Deleted: lines."""
    with store.transaction() as tx:
        removal = Removal(tx, Graph.build(store.images()), Containers(store).uses())
        for ref in refs:
            removal.remove(ref, force=force, prune=not no_prune)
        return removal.lines


def image_prune(store: Store, *, all_unused: bool = False) -> list[str]:
    with store.transaction() as tx:
        return prune(tx, Graph.build(store.images()), all_unused, Containers(store).uses())


# -- views -----------------------------------------------------------------------


def images(store: Store, *, all: bool = False, pattern: str | None = None) -> list[views.ImageRow]:
    sizes = layer_sizes(store)
    rows = views.image_rows(graph(store), all, pattern, sizes=sizes)
    sizes.save()
    return rows


def history(store: Store, ref: str) -> list[views.HistoryRow]:
    img = get_image(store, ref)
    sizes = layer_sizes(store)
    rows = views.history_rows(Graph.around(store.images(), img), img, sizes=sizes)
    sizes.save()
    return rows


def inspect(store: Store, refs: Sequence[str]) -> list[dict[str, Any]]:
    found = [get_image(store, r) for r in refs]
    images, sizes = store.images(), layer_sizes(store)
    docs = [views.inspect_doc(Graph.around(images, img), img, sizes=sizes) for img in found]
    sizes.save()
    return docs


def layer_sizes(store: Store) -> LayerSizes:
    """Docker's layer sizes, remembered in the store (store/layersizes.py)."""
    return LayerSizes(store.layer_path, store.state / "sizes.json", lambda: store.tmp)


def tree(store: Store, ref: str | None = None) -> list[views.TreeNode]:
    if ref is None:
        return views.layer_tree(graph(store))
    img = get_image(store, ref)
    return views.layer_tree(Graph.around(store.images(), img), img)
