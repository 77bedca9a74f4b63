"""Delta verbs: inventory, delta save, expand (docs/design.md §6).

A delta archive lists every layer of its images but carries only the files of the
layers the recipient lacks. What the recipient has is said by `exclude` (images it
holds, typically the base), `exclude_base` (each image's base, see store/base.py),
an inventory made on its side (`lamina inventory`), or any mix of them; they are all
turned into chain IDs, and ops/delta.py plans by chain ID (what `docker load` needs).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lamina.api.images import images_for
from lamina.errors import UsageError
from lamina.image import Image, Layer
from lamina.ops import delta
from lamina.progress import Progress
from lamina.store.base import find_base
from lamina.store.graph import Graph, resolve
from lamina.store.inventory import Inventory
from lamina.store.local import Store
from lamina.transports import docker_archive
from lamina.transports import expand as expander
from lamina.transports.delta_archive import write_delta
from lamina.transports.sources import open_archive, read_images

Output = BinaryIO | str | Path


def inventory(store: Store) -> Inventory:
    """What the store holds: layers by chain ID, images with their tags."""
    return Inventory.of_images(store.images())


# -- delta save ------------------------------------------------------------------


@dataclass(frozen=True)
class DeltaSaved:
    images: tuple[Image, ...]
    plan: delta.Plan
    bytes: int  # of the archive written
    no_base: tuple[str, ...]  # images for which exclude_base found no base


def plan_delta(
    store: Store,
    refs: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    exclude_base: bool = False,
    have: Inventory | str | Path | None = None,
    omit_layers: set[str] | None = None,
) -> tuple[list[Image], delta.Plan, tuple[str, ...]]:
    """The images to save, what to leave out of them, and which had no base to exclude."""
    if not refs:
        raise UsageError("save needs at least one image")
    images = images_for(store, refs)
    graph = Graph.build(store.images())
    chains = delta.chains_of(resolve(graph.images, ref).image for ref in exclude)
    no_base: list[str] = []
    if exclude_base:
        for ref in refs:
            img = resolve(graph.images, ref)
            base = find_base(graph, img)
            if base is None:
                no_base.append(ref)
            else:
                chains |= set(base.chain_ids)
    if have is not None:
        inv = have if isinstance(have, Inventory) else Inventory.read(have)
        chains |= inv.chain_ids
    plan = delta.plan(images, chains, omit_layers or ())
    return images, plan, tuple(dict.fromkeys(no_base))


def save_delta(
    store: Store,
    refs: Sequence[str],
    out: Output,
    *,
    exclude: Sequence[str] = (),
    exclude_base: bool = False,
    have: Inventory | str | Path | None = None,
    omit_layers: set[str] | None = None,
    progress: Progress | None = None,
) -> DeltaSaved:
    """Save `refs` leaving out the layers the recipient has (see module doc).

    The archive is a docker-archive without the OCI layout (transports/delta_archive.py
    says why): `docker load` and `lamina load` take it where those layers are present.
    """
    images, plan, no_base = plan_delta(
        store, refs, exclude=exclude, exclude_base=exclude_base, have=have, omit_layers=omit_layers
    )
    n = write_to(out, lambda f: write_delta(images, f, plan.omit, progress))
    return DeltaSaved(tuple(images), plan, n, no_base)


def write_to(out: Output, write: Callable[[BinaryIO], int]) -> int:
    """Run `write` on a stream, or on a file path atomically (temp file, then rename)."""
    if not isinstance(out, (str, Path)):
        return write(out)
    path = Path(out)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            n = write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


# -- expand ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expanded:
    images: tuple[Image, ...]
    filled: tuple[Layer, ...]  # the layers the delta left out, now present
    bytes: int


def expand(
    store: Store,
    source: str,
    out: Output,
    *,
    base_archive: str | None = None,
    progress: Progress | None = None,
) -> Expanded:
    """Write the delta archive `source` as a complete archive (a full save's format).

    Missing layers come from the store, else from `base_archive`; every layer is
    verified against its diff_id on the way. For podman and skopeo, which refuse
    archives with missing files.
    """
    scratch = store.scratch_dir()
    try:
        with ExitStack() as stack:
            fs = stack.enter_context(open_archive(source, scratch))
            images = read_images(fs)
            sources: list[expander.LayerSource] = [_store_source(store)]
            if base_archive is not None:
                base_fs = stack.enter_context(open_archive(base_archive, scratch))
                sources.append(expander.archive_source(read_images(base_fs), scratch))
            full = expander.fill(images, sources, scratch)
            n = write_to(
                out, lambda f: docker_archive.write_archive(full, f, "docker", None, progress)
            )
        filled = {x.diff_id: x for i in images for x in i.layers if not x.available}
        done = {x.diff_id: x for i in full for x in i.layers}
        return Expanded(tuple(full), tuple(done[d] for d in filled), n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _store_source(store: Store) -> expander.LayerSource:
    def lookup(diff_id: str) -> Layer | None:
        return store.layer(diff_id, diff_id) if store.has_layer(diff_id) else None

    return lookup
