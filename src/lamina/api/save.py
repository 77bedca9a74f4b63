"""save: the one path from store images to an archive, full or delta (docs/design.md §5, §6).

A full save is a delta save that leaves nothing out. The three steps all live here:
1. Choose: each ref resolves to a store image, named as `docker save` names it (asked
   for by name: that name; by ID: no name, RepoTags null); refs to one image merge.
2. Plan what the recipient has, as chain IDs (ops/delta.py plans by them, the test
   `docker load` applies): the layers of `exclude` images, each image's base
   (`exclude_base`, see store/base.py), an inventory made on the recipient's side
   (`have`, `lamina inventory`), and diff_ids it holds by content (`omit_layers`).
   With none of these, nothing is left out and no image graph is built.
   With `exclude`, or a `have` inventory whose store rebuilds patches (and `patches`,
   the default), each layer the recipient lacks may travel as a patch against a layer
   it holds (ops/references.py chooses, ops/patching.py encodes and decides); patches
   are spooled in the store's temp space.
3. Write (transports/archive_writer.py says what each archive holds): a docker-archive
   (a delta when the plan leaves a layer out), an oci-archive, or an oci-dir; to a
   stream or a path (atomic.output: a file is replaced atomically, nothing is left on
   failure; a device, FIFO or /dev/stdout is written as a stream).
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lamina import digest, reference
from lamina.api.lookup import Names, as_names
from lamina.atomic import output
from lamina.errors import UsageError
from lamina.image import Artifact, Image, Layer, Opener
from lamina.ops import delta, patching
from lamina.ops.references import Chooser, Stack
from lamina.progress import Progress
from lamina.store.artifacts import Artifacts
from lamina.store.base import find_base
from lamina.store.graph import Graph, resolve
from lamina.store.inventory import Inventory
from lamina.store.local import Store
from lamina.transports import archive_patches, archive_writer, oci_layout

SAVE_FORMATS = ("docker-archive", "oci-archive", "oci-dir")
Output = BinaryIO | str | Path


@dataclass(frozen=True)
class Saved:
    """What `save_delta` wrote: the images, what it carried and left out, the bytes."""

    images: tuple[Image, ...]
    plan: delta.Plan  # what was carried and what was left out
    bytes: int  # of the archive written
    no_base: tuple[str, ...]  # images for which exclude_base found no base
    patched: patching.Patched | None = None  # how the carried layers travel, if weighed


@dataclass(frozen=True)
class Recipient:
    """What the recipient of a delta holds: chain IDs to leave out, images to patch against."""

    chains: frozenset[str]
    stacks: tuple[Stack, ...]
    reads_patches: bool  # --exclude (a lamina store, presumably) or an inventory saying so


def images_for(store: Store, refs: Names) -> list[Image]:
    """Images to save, each named with the names the user gave them (see module doc)."""
    refs = as_names(refs)
    stored = store.images()
    chosen: dict[str, tuple[Image, list[str]]] = {}
    for text in refs:
        img = resolve(stored, text)
        ref = reference.try_parse(text)
        names = [ref.familiar] if ref is not None and ref.familiar in img.names else []
        entry = chosen.setdefault(img.id, (img.image, []))
        entry[1].extend(n for n in names if n not in entry[1])
    return [image.with_names(names) for image, names in chosen.values()]


def plan(
    store: Store,
    refs: Names,
    *,
    exclude: Names = (),
    exclude_base: bool = False,
    have: Inventory | str | Path | None = None,
    omit_layers: Collection[str] = (),
) -> tuple[list[Image], delta.Plan, tuple[str, ...]]:
    """The images to save, what to leave out of them, and which had no base to exclude."""
    images, recipient, no_base = _recipient(store, refs, exclude, exclude_base, have)
    return images, delta.plan(images, recipient.chains, omit_layers), no_base


def _recipient(
    store: Store,
    refs: Names,
    exclude: Names,
    exclude_base: bool,
    have: Inventory | str | Path | None,
) -> tuple[list[Image], Recipient, tuple[str, ...]]:
    refs, exclude = as_names(refs), as_names(exclude)
    if not refs:
        raise UsageError("save needs at least one image")
    images = images_for(store, refs)
    chains: set[str] = set()
    stacks: list[Stack] = []
    no_base: list[str] = []
    if exclude or exclude_base:
        graph = Graph.build(store.images())
        for held in (resolve(graph.images, ref) for ref in exclude):
            chains |= set(held.image.chain_ids)
            stacks.append(Stack(held.names, held.image.diff_ids))
        for ref in refs if exclude_base else ():
            base = find_base(graph, resolve(graph.images, ref))
            if base is None:
                no_base.append(ref)
            else:
                chains |= set(base.chain_ids)
                stacks.append(Stack(base.image.names, base.image.facts.diff_ids))
    reads = bool(exclude)
    if have is not None:
        inventory = have if isinstance(have, Inventory) else Inventory.read(have)
        chains |= inventory.chain_ids
        stacks += [Stack(tags, diff_ids) for tags, diff_ids in inventory.stacks()]
        reads = reads or archive_patches.rebuilds(inventory.patches)
    recipient = Recipient(frozenset(chains), tuple(stacks), reads)
    return images, recipient, tuple(dict.fromkeys(no_base))


def make_patches(
    store: Store,
    images: Sequence[Image],
    carried: Sequence[Layer],
    stacks: Sequence[Stack],
    scratch: Path,
    progress: Progress | None = None,
) -> patching.Patched:
    """How each carried layer travels, patch or whole, against what `stacks` hold."""

    def size(diff_id: str) -> int | None:
        return store.layer(diff_id).size if store.has_layer(diff_id) else None

    def in_place(diff_id: str) -> Opener:
        # seekable, so headers are read by seeking and encode_patch needs no spool; the
        # patch header's diff_ids (hashed as encode_patch reads) are checked against
        # the names (ops/patching.py)
        return lambda: open(store.layer_path(diff_id), "rb")

    chooser = Chooser(stacks, size, in_place)
    return patching.make_patches(images, carried, chooser, in_place, scratch, progress)


def save_delta(
    store: Store,
    refs: Names,
    out: Output,
    *,
    fmt: str = "docker-archive",
    exclude: Names = (),
    exclude_base: bool = False,
    have: Inventory | str | Path | None = None,
    omit_layers: Collection[str] | None = None,
    patches: bool = True,
    progress: Progress | None = None,
    with_referrers: bool = False,
) -> Saved:
    """Save `refs` to `out`, leaving out the layers the recipient has (see module doc).

    With `exclude`, or a `have` inventory that says its store rebuilds patches (a
    lamina store's does; a Docker Engine's does not), layers it lacks travel as
    patches where they win, unless `patches` is False."""
    if fmt not in SAVE_FORMATS:
        raise UsageError(f"unknown format {fmt!r}", f"use one of {', '.join(SAVE_FORMATS)}")
    if with_referrers and fmt == "docker-archive":
        raise UsageError(
            "referrers travel in an OCI layout, not a docker-archive",
            "save as an oci-archive or oci-dir",
            command="add --format oci-archive or --format oci-dir",
        )
    if (exclude or exclude_base or have is not None or omit_layers) and fmt != "docker-archive":
        raise UsageError(
            f"a delta archive is a docker-archive, not {fmt}",
            "save it as a docker-archive",
            command="drop --format",
        )
    images, recipient, no_base = _recipient(store, refs, exclude, exclude_base, have)
    chosen = delta.plan(images, recipient.chains, omit_layers or ())
    if patches and recipient.reads_patches and chosen.carried and recipient.stacks:
        scratch = store.scratch_dir()
        try:
            made = make_patches(store, images, chosen.carried, recipient.stacks, scratch, progress)
            with output(out) as f:
                omit = chosen.omit | made.omit
                n = archive_writer.write_archive(
                    images, f, "docker", omit, progress, patches=made.patches
                )
            return Saved(tuple(images), chosen, n, no_base, made)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    extra = _referrers(store, images) if with_referrers else []
    if fmt == "oci-dir":
        if not isinstance(out, (str, Path)):
            raise UsageError("oci-dir output needs a directory path", "pass -o DIR")
        n = oci_layout.write_dir(images, Path(out), extra)
    else:
        kind = "docker" if fmt == "docker-archive" else "oci"
        with output(out) as f:
            n = archive_writer.write_archive(
                images, f, kind, chosen.omit, progress, artifacts=extra
            )
    return Saved(tuple(images), chosen, n, no_base)


def _referrers(store: Store, images: list[Image]) -> list[tuple[Artifact, oci_layout.Blobs]]:
    """The artifacts kept with `images` (store/artifacts.py), each once, and how to read them."""
    kept = Artifacts(store)

    def open_blob(dig: str) -> BinaryIO:
        return open(kept.folder / digest.hex_of(dig), "rb")

    found = {a.digest: a for image in images for a in kept.of(image.id)}
    return [(a, open_blob) for a in found.values()]


def save(
    store: Store,
    refs: Names,
    out: Output,
    *,
    fmt: str = "docker-archive",
    omit_layers: Collection[str] | None = None,
    exclude: Names = (),
    exclude_base: bool = False,
    have: str | Path | None = None,
    patches: bool = True,
    progress: Progress | None = None,
    with_referrers: bool = False,
) -> int:
    """Write images to `out` (a stream, a file path, or a directory for oci-dir); returns bytes.

    `exclude`, `exclude_base`, `have` and `omit_layers` make a delta archive (see the
    module doc), with patches where they win unless `patches` is False; save_delta
    also reports what was left out and what travels as a patch. `with_referrers` adds
    the artifacts pulled with the images to an OCI layout (oci-archive, oci-dir).
    """
    return save_delta(
        store,
        refs,
        out,
        fmt=fmt,
        exclude=exclude,
        exclude_base=exclude_base,
        have=have,
        omit_layers=omit_layers,
        patches=patches,
        progress=progress,
        with_referrers=with_referrers,
    ).bytes
