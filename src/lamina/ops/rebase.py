"""Rebase: the layers a user made, moved from one base onto another.

No layer is rewritten: the new image lists the new base's layers, then the image's
own layers above its old base, with history joined the same way. The result is only
as right as the user's claim that the upper layers still make sense on the new base.
"""

from __future__ import annotations

from lamina import digest
from lamina.errors import UsageError
from lamina.image import Image
from lamina.ops.history import raw_history, with_layers


def is_layer_prefix(base: Image, image: Image) -> bool:
    n = len(base.layers)
    return n <= len(image.layers) and image.diff_ids[:n] == base.diff_ids


def rebase(image: Image, old_base: Image, new_base: Image) -> Image:
    """`image` with `old_base`'s layers (and history) replaced by `new_base`'s: a value,
    writing nothing (no layer is new)."""
    if not is_layer_prefix(old_base, image):
        raise UsageError(
            f"{_name(old_base)} is not the base of {_name(image)}: its layers are not a prefix",
            "name the image's real base",
            command="with --base",
        )
    n = len(old_base.layers)
    history = raw_history(image.config)
    old_history = raw_history(old_base.config)
    if history[: len(old_history)] != old_history:
        raise UsageError(
            f"{_name(old_base)} shares layers with {_name(image)} but not its history",
            "name the image's real base",
            command="with --base",
        )
    new_history = raw_history(new_base.config) + history[len(old_history) :]
    diff_ids = list(new_base.diff_ids) + list(image.diff_ids[n:])
    config = with_layers(image.config, diff_ids, new_history)
    layers = (*new_base.layers, *image.layers[n:])
    return Image(config, layers, image.names, image.annotations)


def _name(image: Image) -> str:
    return image.names[0] if image.names else digest.short(image.id)
