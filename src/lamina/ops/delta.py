"""Delta planning: which layer files a recipient does not need. Pure: images in, plan out.

A recipient "has" a layer of an image when it has that layer's chain ID, the whole
stack below it included. That is the test `docker load` applies before it opens a
layer file (moby's tarexport looks the chain ID up and only reads the file when it is
absent), so planning by chain ID makes one archive that `docker load` and `lamina
load` both accept. A layer that the recipient holds in some other stack (same diff_id,
different chain) is therefore still carried: Docker would need it.

Files are shared by diff_id inside an archive, so a diff_id is left out only when
every place it occurs in the images being saved is covered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from lamina.image import Image, Layer


@dataclass(frozen=True)
class Plan:
    """What a delta archive carries and what it leaves out (each layer once, bottom first)."""

    carried: tuple[Layer, ...]
    omitted: tuple[Layer, ...]

    @property
    def omit(self) -> set[str]:
        """The diff_ids to leave out, as the archive writers take them."""
        return {layer.diff_id for layer in self.omitted}

    @property
    def carried_bytes(self) -> int:
        return sum(layer.size for layer in self.carried)

    @property
    def omitted_bytes(self) -> int:
        return sum(layer.size for layer in self.omitted)


def chains_of(images: Iterable[Image]) -> set[str]:
    """Every chain ID the images are made of: what a recipient holding them has."""
    return {chain for image in images for chain in image.chain_ids}


def plan(
    images: Sequence[Image], have_chains: Collection[str], diff_ids: Collection[str] = ()
) -> Plan:
    """Leave out each layer whose every use sits on a chain the recipient has.

    `diff_ids` are left out wherever they occur: for a caller that knows the
    recipient holds those layers by content (a lamina store does; Docker may not).
    """
    needed: set[str] = set()
    layers: dict[str, Layer] = {}
    for image in images:
        for layer, chain in zip(image.layers, image.chain_ids, strict=True):
            layers.setdefault(layer.diff_id, layer)
            if chain not in have_chains and layer.diff_id not in diff_ids:
                needed.add(layer.diff_id)
    carried = tuple(x for d, x in layers.items() if d in needed)
    omitted = tuple(x for d, x in layers.items() if d not in needed)
    return Plan(carried, omitted)
