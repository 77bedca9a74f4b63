"""What the delta commands print: the plan of a delta (left out, carried, patched) as
lines for a person or as JSON (save, send, send --to-docker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamina import digest, humanize
from lamina.api import delta
from lamina.image import Image, Layer
from lamina.ops.delta import Plan
from lamina.ops.patching import Decision, Patched

NEEDS_LAMINA = (
    "note: this archive carries layer patches: load it with `lamina load`, or make it "
    "whole with `lamina expand` (plain `docker load` refuses it; --no-patches avoids them)"
)


def saved_json(saved: delta.Saved) -> dict[str, Any]:
    return {
        "Images": [_image_json(i) for i in saved.images],
        "Omitted": [_layer_json(x) for x in saved.plan.omitted],
        "OmittedBytes": saved.plan.omitted_bytes,
        "Carried": [_layer_json(x) for x in saved.plan.carried],
        "CarriedBytes": saved.plan.carried_bytes,
        "ArchiveBytes": saved.bytes,
        "NoBase": list(saved.no_base),
        "Patches": [_decision_json(d) for d in (saved.patched.decisions if saved.patched else ())],
    }


def _decision_json(d: Decision) -> dict[str, Any]:
    p = d.patch
    return {
        "DiffId": d.layer.diff_id,
        "Size": d.layer.size,
        "Reference": p.reference if p else None,
        "PatchBytes": p.patch_size if p else None,
        "Why": d.why,
    }


def summary(
    plan: Plan, archive_bytes: int, no_base: Sequence[str] = (), patched: Patched | None = None
) -> list[str]:
    lines = [
        f"note: no base known for {name} (no base annotations, no tagged ancestor): "
        "all its layers are carried"
        for name in no_base
    ]
    if plan.omitted:
        lines.append(
            f"Left out {count(plan.omitted)} the recipient has "
            f"({humanize.size(plan.omitted_bytes)}): {_ids(plan.omitted)}"
        )
    else:
        lines.append("Left out nothing: the recipient has none of these layers")
    full = archive_bytes + plan.omitted_bytes
    saved = f"{100 * plan.omitted_bytes / full:.0f}%" if full else "0%"
    lines.append(
        f"Carried {count(plan.carried)} ({humanize.size(plan.carried_bytes)}); "
        f"wrote {humanize.size(archive_bytes)}, saved {humanize.size(plan.omitted_bytes)} ({saved})"
    )
    for d in patched.decisions if patched else ():
        if d.weighed:  # a layer no reference was in question for says nothing new
            lines.append(
                f"  {digest.short(d.layer.diff_id)} ({humanize.size(d.layer.size)}): {d.why}"
            )
    if patched and patched.patches:
        lines.append(
            f"Patched {count(patched.patches)} ({humanize.size(patched.patched_bytes)}) "
            f"as {humanize.size(patched.patch_bytes)} of patches against layers the recipient has"
        )
    return lines


def count(layers: Sequence[object]) -> str:
    return f"{len(layers)} layer{'' if len(layers) == 1 else 's'}"


def _ids(layers: Sequence[Layer], most: int = 6) -> str:
    shown = ", ".join(digest.short(x.diff_id) for x in layers[:most])
    return shown + (f" and {len(layers) - most} more" if len(layers) > most else "")


def _layer_json(layer: Layer) -> dict[str, Any]:
    return {"DiffId": layer.diff_id, "Size": layer.size}


def _image_json(image: Image) -> dict[str, Any]:
    return {"Id": image.id, "RepoTags": list(image.names)}
