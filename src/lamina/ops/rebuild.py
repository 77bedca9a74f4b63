"""Rebuilding the layers a delta carries as patches, before anything is written.

    images = rebuild(images, patches, references, present, scratch, progress)

`images` are read from a patched delta (transports/archive_patches.py): a patched
layer is listed but not carried (`available` False). For each such layer that
`present` (what the destination already holds) lacks and a patch rebuilds:
1. first, for all of them: the reference must be found by `references` (diff_id ->
   a plain layer, or None); otherwise MissingLayersError names every
   patched layer, its image and the reference it needs, before any work is done;
2. then each is rebuilt into a spool file of its own in `scratch` (layer/patch.py's
   apply_patch checks the rebuilt bytes against the target diff_id as it writes and
   raises on a mismatch, a damaged patch or a wrong reference; the patch blob is
   verified against its own digest after it is read to its end).
The result are the images with those layers replaced by plain layers reading the
spool files: the caller writes them the usual way (Transaction.put_image, an archive
writer), which verifies each layer once more. Nothing is held in memory; on any
failure nothing has been written but spool files, which the caller removes with
`scratch`. A reference that is itself patched in the same archive is not followed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from lamina import digest, mediatype
from lamina.errors import MissingLayersError
from lamina.image import Image, Layer, LayerPatch
from lamina.layer.patch import apply_patch
from lamina.progress import Progress

# diff_id -> a plain layer, or None; seekable (a file) saves apply_patch a spool, and
# need not verify: apply_patch checks every reference range it uses and the result
LayerSource = Callable[[str], Layer | None]


def needed(
    images: Sequence[Image], patches: Mapping[str, LayerPatch], present: Callable[[str], bool]
) -> dict[str, tuple[Image, LayerPatch]]:
    """The patches to apply: layers not carried, not present, that a patch rebuilds."""
    out: dict[str, tuple[Image, LayerPatch]] = {}
    for image in images:
        for layer in image.layers:
            d = layer.diff_id
            if not layer.available and d in patches and d not in out and not present(d):
                out[d] = (image, patches[d])
    return out


def rebuild(
    images: Sequence[Image],
    patches: Mapping[str, LayerPatch],
    references: LayerSource,
    present: Callable[[str], bool],
    scratch: Path,
    progress: Progress | None = None,
) -> list[Image]:
    """The images with every patched layer rebuilt and verified (see module doc)."""
    todo = needed(images, patches, present)
    refs = {p.reference: references(p.reference) for _, p in todo.values()}
    lacking = [(image, p) for image, p in todo.values() if refs[p.reference] is None]
    if lacking:
        raise _missing(lacking)
    built = {}
    for n, (d, (_, patch)) in enumerate(todo.items()):
        ref = refs[patch.reference]
        assert ref is not None
        built[d] = _apply(patch, ref, scratch / f"rebuilt-{n}.tar", progress or Progress.null())
    return [
        replace(image, layers=tuple(built.get(x.diff_id, x) for x in image.layers))
        for image in images
    ]


def _apply(patch: LayerPatch, reference: Layer, path: Path, progress: Progress) -> Layer:
    with patch.open_patch() as src, open(path, "wb") as out:
        apply_patch(reference.open_blob, src, out, progress=progress)
        while src.read(1 << 20):  # to its end: the blob's digest is checked there
            pass
    size = path.stat().st_size
    return Layer(patch.diff_id, patch.diff_id, size, mediatype.OCI_LAYER, lambda: open(path, "rb"))


def _missing(lacking: list[tuple[Image, LayerPatch]]) -> MissingLayersError:
    parts, holders = [], []
    for image, p in lacking:
        who = ", ".join(image.names) or digest.short(image.id, algorithm=True)
        ref = digest.short(p.reference, algorithm=True)
        against = f"{p.reference_image}'s layer {ref}" if p.reference_image else f"layer {ref}"
        parts.append(
            f"{who} layer {digest.short(p.diff_id, algorithm=True)} is a patch against {against}"
        )
        if p.reference_image and p.reference_image not in holders:
            holders.append(p.reference_image)
    first = " or ".join(holders) if holders else "the image those layers belong to"
    return MissingLayersError(
        f"the archive carries layers as patches against layers this store does not have "
        f"({'; '.join(parts)})",
        f"load {first} first, or ask the sender for a save without patches",
        command="the sender's `lamina save --no-patches` writes one",
    )
