"""`system check`: the store's blobs, references and container records, verified and healed.

The store's part (blobs, index.json, leftovers of dead processes) is
lamina.store.check; here the containers are added: every record must parse, its
rootfs must exist, and the layers and config it holds (even after its image was
removed) must be in the store. Leftovers of interrupted creates and removals
(`.gone-*`, and `.new-*` older than a day, as Containers.sweep decides) are
reported, and reclaimed by `repair`.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from lamina import digest
from lamina.containers.records import RECORD, Container, Containers
from lamina.errors import LaminaError
from lamina.store import check as store_check
from lamina.store.artifacts import Artifacts
from lamina.store.check import Finding
from lamina.store.local import Store
from lamina.store.tmp import tree_size

STALE_NEW = 24 * 3600  # Containers.sweep's rule for an unfinished create


def check(
    store: Store, *, quick: bool = False, repair: bool = False, force: bool = False
) -> list[Finding]:
    """Every problem found (fixed=True when `repair`/`force` fixed it); [] means healthy.

    `quick` compares blob sizes instead of re-hashing every byte. `repair` reclaims
    leftovers and unreferenced blobs; `force` also removes damaged images.
    """
    containers = Containers(store)
    records, found = _records(containers)
    if repair:
        containers.sweep()  # the same rule as _leftover
        found = [replace(f, fixed=True) if f.kind == "leftover" else f for f in found]
    held: dict[str, str] = {}
    for c in records:
        for dig in (c.image_id, *c.diff_ids):
            held.setdefault(dig, f"container {c.name}")
    found += store_check.check(store, held, quick=quick, repair=repair, force=force)
    return found + _referrers(store)


def _referrers(store: Store) -> list[Finding]:
    """Kept referrers (store/artifacts.py) whose bytes are missing or damaged."""
    what = "a signature, attestation or SBOM kept with an image does not match its digest"
    return [
        Finding("corrupt", dig, f"{what}; pull the image again with its referrers")
        for dig in Artifacts(store).damaged()
    ]


def _records(containers: Containers) -> tuple[list[Container], list[Finding]]:
    if not containers.dir.is_dir():
        return [], []
    records, found = [], []
    for entry in sorted(os.scandir(containers.dir), key=lambda e: e.name):  # stable output
        path = Path(entry.path)
        if entry.name.startswith((".gone-", ".new-")):
            found += _leftover(path, entry.name.startswith(".gone-"))
            continue
        try:
            record = Container.from_json((path / RECORD).read_bytes(), path)
        except (OSError, LaminaError) as exc:
            found.append(
                Finding("broken", f"container {digest.short(entry.name)}", f"no record ({exc})")
            )
            continue
        records.append(record)
        if not record.rootfs.is_dir():
            found.append(Finding("broken", f"container {record.name}", "its rootfs is missing"))
    return records, found


def _leftover(path: Path, gone: bool) -> list[Finding]:
    if not gone and time.time() - path.lstat().st_mtime < STALE_NEW:
        return []  # perhaps a create still running
    what = "an interrupted container create or rm"
    return [Finding("leftover", str(path), what, tree_size(path))]
