"""Verbs on images in the store: load, tag, rmi, prune, images, history, inspect, tree.

`save` is api/save.py (full and delta saves are one path).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from lamina import reference
from lamina.api import filters as filters_
from lamina.api import views
from lamina.api.lookup import Names, as_names, get_image, graph
from lamina.containers.records import Containers
from lamina.errors import InvalidInputError, UsageError
from lamina.image import Image
from lamina.ops.rebuild import LayerSource, rebuild
from lamina.progress import Progress
from lamina.spec import Platform
from lamina.store import journal
from lamina.store.artifacts import Artifacts
from lamina.store.graph import Graph
from lamina.store.ingest import find_missing, missing_error
from lamina.store.layersizes import LayerSizes
from lamina.store.local import Store, Transaction
from lamina.store.origins import Origins
from lamina.store.rules import Removal, prune
from lamina.transports import archive_patches
from lamina.transports.sources import open_archive, read_images

# -- load ------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """One image `load` put in the store: its ID, names, the names it took over, new layers."""

    id: str
    names: tuple[str, ...]
    replaced: tuple[tuple[str, str], ...]  # (name, id it pointed at before)
    new_layers: int


def load(
    store: Store,
    source: str | None = None,
    *,
    stdin: BinaryIO | None = None,
    platform: Platform | str | None = None,
    progress: Progress | None = None,
) -> list[Loaded]:
    """Load every image of an archive or OCI layout (None or "-": stdin) into the store.

    All-or-nothing: layers a delta archive leaves out must already be in the
    store, checked before anything is written; any failure leaves the store as it was.
    Layers it carries as patches are rebuilt first (ops/rebuild.py), against references
    the store must hold (checked, all of them, before any is rebuilt).
    """
    with open_archive(source, store.tmp, stdin, progress) as fs:
        images = read_images(fs, Platform.of(platform))
        if not images:
            raise InvalidInputError(f"{fs.label} holds no images")
        patches = archive_patches.read(fs)
        journal.pause_point("load-planned")
        with store.transaction() as tx:
            if not patches:
                return load_images(store, tx, images, progress)
            scratch = store.scratch_dir()
            try:  # references are checked under the lock, before anything is written
                refs = _reference(store, tx)
                images = rebuild(images, patches, refs, tx.has_blob, scratch, progress)
                return load_images(store, tx, images, progress)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)


def _reference(store: Store, tx: Transaction) -> LayerSource:
    """Layers the store held before this load, read in place (see ops/rebuild.py)."""
    return lambda diff_id: store.layer_in_place(diff_id) if tx.has_blob(diff_id) else None


def load_images(
    store: Store, tx: Transaction, images: list[Image], progress: Progress | None = None
) -> list[Loaded]:
    """Put read images into the store within `tx`, names and all (see `load`)."""
    # all of them, before any is written; what the store holds is decided under the
    # lock only (an rmi may have run since the archive was read)
    missing = find_missing(images, tx.has_blob)
    if missing:
        raise missing_error(missing)
    present = {e.manifest.digest for e in tx.entries}
    counted: set[str] = set()  # layers counted as new for an earlier image of this load
    results = []
    for image in images:
        # against the store, not tx: a Docker export stages its layers before this runs
        new = {d for d in image.diff_ids if d not in counted and not store.has_layer(d)}
        counted |= new
        results.append(_load_one(tx, image, present, len(new), progress))
    return results


def _load_one(
    tx: Transaction, image: Image, present: set[str], new_layers: int, progress: Progress | None
) -> Loaded:
    manifest = tx.put_image(image, progress)
    replaced = []
    for name in image.names:
        old = tx.keep(manifest, name)
        if old is not None and old in present:
            replaced.append((name, tx.image_id_of(old)))
    if not image.names:
        tx.keep(manifest)
    return Loaded(image.id, image.names, tuple(replaced), new_layers)


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


def rmi(store: Store, refs: Names, *, force: bool = False, no_prune: bool = False) -> list[str]:
    """Remove images by Docker's rules; returns Docker's Untagged:/Deleted: lines."""
    refs = as_names(refs)
    with store.transaction() as tx:
        removal = Removal(tx, Graph.build(store.images()), Containers(store).uses())
        for ref in refs:
            removal.remove(ref, force=force, prune=not no_prune)
    _forget_removed(store)  # a removed image loaded again has no RepoDigests
    return removal.lines


def image_prune(
    store: Store, *, all_unused: bool = False, filters: Names = ()
) -> tuple[list[str], int]:
    """Remove dangling images (`all_unused`: every image no container uses and no other
    image is built on) that pass `filters` (Docker's until=, label=, label!=), by Docker's
    rules. Returns Docker's Untagged:/Deleted: lines and the bytes reclaimed: the sizes
    of the layers that went ("Total reclaimed space")."""
    given = filters_.parse(filters, filters_.PRUNE_KEYS)
    keep = filters_.prune_match(given, filters_.image_labels, lambda i: i.facts.created)
    images, sizes = store.images(), layer_sizes(store)
    # sized before they go (sizes.json usually knows them: listings fill it)
    facts = [i.facts for i in images]
    pairs = {c: d for f in facts for c, d in zip(f.chain_ids, f.diff_ids, strict=True)}
    size_of = {chain: sizes(diff_id) for chain, diff_id in pairs.items()}
    sizes.save()
    with store.transaction() as tx:
        lines = prune(tx, Graph.build(images), all_unused, Containers(store).uses(), keep)
    _forget_removed(store)
    gone = {ln.removeprefix("Deleted: ") for ln in lines} & size_of.keys()
    return lines, sum(size_of[chain] for chain in gone)


def _forget_removed(store: Store) -> None:
    """What the sidecars kept for removed images goes with them."""
    Origins(store).forget_removed()
    Artifacts(store).forget_removed()


# -- views -----------------------------------------------------------------------


def images(
    store: Store,
    *,
    all: bool = False,
    pattern: str | None = None,
    filters: Names = (),
) -> list[views.ImageRow]:
    """Rows as `docker images` lists them; `digest` is the registry's for that repository.

    `filters`: Docker's --filter strings, e.g. ["dangling=true"] (api/filters.py)."""
    sizes, origins = layer_sizes(store), Origins(store)
    given = filters_.parse(filters, filters_.IMAGE_KEYS)
    keep = filters_.image_match(given, lambda ref: get_image(store, ref).facts.created)
    keep_name = filters_.reference_match(given) if "reference" in given else None
    rows = views.image_rows(graph(store), all, pattern, sizes=sizes, keep=keep, keep_name=keep_name)
    sizes.save()

    def repo_digest(row: views.ImageRow) -> str:
        found = (o.digest for o in origins.of(row.id) if o.familiar_repository == row.repository)
        return next(found, "<none>")

    return [replace(r, digest=repo_digest(r)) for r in rows]


def history(store: Store, ref: str) -> list[views.HistoryRow]:
    """The image's history, newest first, as `docker history` lists it."""
    img = get_image(store, ref)
    sizes = layer_sizes(store)
    rows = views.history_rows(Graph.around(store.images(), img), img, sizes=sizes)
    sizes.save()
    return rows


def inspect(store: Store, refs: Names) -> list[dict[str, Any]]:
    """Docker's `image inspect` documents, one per name."""
    found = [get_image(store, r) for r in as_names(refs)]
    images, sizes, origins = store.images(), layer_sizes(store), Origins(store)
    kept = Artifacts(store)
    docs = []
    for img in found:
        graph = Graph.around(images, img)
        doc = views.inspect_doc(graph, img, origins.repo_digests(img.id), sizes=sizes)
        if referrers := kept.of(img.id):  # lamina's own key, only when there are some
            doc["Referrers"] = [views.referrer_doc(a) for a in referrers]
        docs.append(doc)
    sizes.save()
    return docs


def layer_sizes(store: Store) -> LayerSizes:
    """Docker's layer sizes, remembered in the store (store/layersizes.py)."""
    return LayerSizes(
        store.layer_path, store.state / "sizes.json", lambda: store.tmp, store.indexes
    )


def tree(store: Store, ref: str | None = None) -> list[views.TreeNode]:
    """The images as a tree of shared layers (`ref`: only that image's ancestry)."""
    if ref is None:
        return views.layer_tree(graph(store))
    img = get_image(store, ref)
    return views.layer_tree(Graph.around(store.images(), img), img)
