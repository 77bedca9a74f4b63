"""Patching a delta: which of the layers a recipient lacks travel as patches.

    made = make_patches(images, plan.carried, chooser, open_layer, scratch, progress)
    write_archive(images, out, omit=plan.omit | made.omit, patches=made.patches)

For each layer the delta carries (ops/delta.Plan.carried, bottom first) the chooser
(ops/references.py) names a reference the recipient holds, or none. With one, the
patch is encoded (layer/patch.py) into a spool file of its own in `scratch` (never in
memory; the caller removes `scratch`), and kept when it is smaller than the layer
compressed whole (zstd level 3, streamed into a counter: what the layer would cost on
a compressed wire). That measure is skipped when the patch is under 1/50 of the
layer, since few layers compress 50 times. A layer under MIN_SIZE travels whole without
trying: the few KB a patch saves there do not pay for an archive that plain `docker
load` refuses. Every decision says why, for the plan the user sees. The recipient
rebuilds the layer from the patch (ops/rebuild.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lamina import digest, humanize
from lamina.errors import DigestMismatchError
from lamina.image import Image, Layer, LayerPatch, Opener
from lamina.layer import compression
from lamina.layer.patch import encode_patch
from lamina.ops.references import Chooser
from lamina.progress import Progress

CLEAR_WIN = 50  # a patch under 1/50 of its layer wins without measuring the whole
MIN_SIZE = 256 << 10  # smaller layers travel whole (see module doc)


@dataclass(frozen=True)
class Decision:
    """How one layer the recipient lacks travels: as `patch`, or whole (patch None)."""

    layer: Layer
    patch: LayerPatch | None
    why: str
    weighed: bool = True  # False: no reference was in question (too small, none held)


@dataclass(frozen=True)
class Patched:
    decisions: tuple[Decision, ...]

    @property
    def patches(self) -> tuple[LayerPatch, ...]:
        return tuple(d.patch for d in self.decisions if d.patch is not None)

    @property
    def omit(self) -> set[str]:
        """The layers that patches carry: left out of the archive as files."""
        return {p.diff_id for p in self.patches}

    @property
    def patched_bytes(self) -> int:
        """Bytes of the layers that travel as patches (rebuilt on the other side)."""
        return sum(p.size for p in self.patches)

    @property
    def patch_bytes(self) -> int:
        return sum(p.patch_size for p in self.patches)


def make_patches(
    images: Sequence[Image],
    carried: Sequence[Layer],
    chooser: Chooser,
    open_layer: Callable[[str], Opener],
    scratch: Path,
    progress: Progress | None = None,
) -> Patched:
    """Decide, for each carried layer, patch or whole (see module doc)."""
    progress = progress or Progress.null()
    places: dict[str, tuple[Image, int]] = {}
    for image in images:
        for i, layer in enumerate(image.layers):
            places.setdefault(layer.diff_id, (image, i))
    decisions = []
    for n, layer in enumerate(carried):
        if layer.size < MIN_SIZE:
            decisions.append(Decision(layer, None, "whole: too small for a patch", False))
            continue
        image, index = places[layer.diff_id]
        choice = chooser.choose(image, index)
        if choice.reference is None:
            decisions.append(Decision(layer, None, f"whole: {choice.why}", choice.score > 0))
            continue
        spool = scratch / f"patch-{n}"
        patch = _encode(layer, choice.reference, open_layer, spool, progress)
        patch = replace(patch, reference_image=choice.image)
        decisions.append(_decide(layer, patch, choice.why, open_layer, spool))
    return Patched(tuple(decisions))


def _encode(
    layer: Layer,
    reference: str,
    open_layer: Callable[[str], Opener],
    spool: Path,
    progress: Progress,
) -> LayerPatch:
    with open(spool, "wb") as raw:
        out = digest.HashingWriter(raw)
        stats = encode_patch(
            open_layer(reference),
            open_layer(layer.diff_id),
            out,  # type: ignore[arg-type]
            progress=progress,
        )
    head = stats.header
    if (head.reference_diff_id, head.target_diff_id) != (reference, layer.diff_id):
        raise DigestMismatchError(  # the sender's own blobs are damaged
            f"layer {digest.short(layer.diff_id, algorithm=True)} or its reference "
            f"{digest.short(reference, algorithm=True)} does not hash to its diff_id here",
            "repair this store",
            command="run `lamina system check --repair`",
        )
    return LayerPatch(
        layer.diff_id,
        stats.header.target_size,
        reference,
        out.hasher.digest,
        out.hasher.size,
        lambda: open(spool, "rb"),
    )


def _decide(
    layer: Layer, patch: LayerPatch, why: str, open_layer: Callable[[str], Opener], spool: Path
) -> Decision:
    ref = digest.short(patch.reference)
    size = humanize.size(patch.patch_size)
    if patch.patch_size * CLEAR_WIN <= layer.size:
        return Decision(layer, patch, f"patch of {size} against {ref}: {why}")
    whole = _compressed_size(open_layer(layer.diff_id))
    if patch.patch_size < whole:
        return Decision(
            layer, patch, f"patch of {size} against {ref} ({humanize.size(whole)} whole): {why}"
        )
    spool.unlink(missing_ok=True)
    return Decision(
        layer,
        None,
        f"whole: the patch against {ref} ({size}) is no smaller than the layer "
        f"compressed ({humanize.size(whole)})",
    )


def _compressed_size(opener: Opener) -> int:
    counter = _Counter()
    with opener() as src, compression.compressor(counter, "zstd") as z:  # type: ignore[arg-type]
        while chunk := src.read(1 << 20):
            z.write(chunk)
    return counter.size


class _Counter:
    """A sink that only counts what is written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass
