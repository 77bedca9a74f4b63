"""`--with-referrers`: the signatures, attestations and SBOMs of an image travel with it.

On pull, the artifacts that refer to the manifest pulled, and to the index it
was chosen from, are found (OCI referrers API or tag schema, cosign tags) and
fetched as received, together with the index's own attestation entries for that
platform (buildx's `vnd.docker.reference.type: attestation-manifest`). They are
staged first and recorded only once the image has landed. On push, each goes
up unchanged after the image, but only when what it refers to was pushed as
the very digest it names: a signature of a manifest lamina had to remake would
refer to nothing, so it is left out and the caller is told.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lamina.image import Artifact
from lamina.spec import Descriptor
from lamina.store.artifacts import Artifacts
from lamina.store.local import Store
from lamina.transports.registry import referrers

if TYPE_CHECKING:
    from lamina.transports.registry.pull import RemoteImage
    from lamina.transports.registry.repo import Repository


def fetch_all(repo: Repository, found: RemoteImage, staged: Path) -> list[Artifact]:
    """Every artifact of the pulled manifest and of its index, downloaded into `staged`."""
    out: dict[str, Artifact] = {}
    wanted = [(d, found.manifest_digest, "") for d in _index_entries(found)]
    for subject in (found.manifest_digest, found.index_digest):
        if subject:
            wanted += [(d, subject, tag) for d, tag in referrers.discover(repo, subject)]
    for desc, subject, tag in wanted:
        if desc.digest not in out:
            got = referrers.fetch(repo, desc, subject, tag, staged)
            if got is not None:
                out[got.digest] = got
    return list(out.values())


def _index_entries(found: RemoteImage) -> tuple[Descriptor, ...]:
    if not found.index_digest:
        return ()
    return referrers.index_entries(found.received[found.index_digest], found.manifest_digest)


def keep(store: Store, image_id: str, found: list[Artifact], staged: Path) -> None:
    """Record what `fetch_all` staged (the image has landed); the staging dir goes."""
    try:
        if found:
            Artifacts(store).remember(image_id, found, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def push_all(
    store: Store, image_id: str, repo: Repository, pushed: Sequence[str], sources: Sequence[str]
) -> tuple[int, int]:
    """Push the artifacts whose subject is among the `pushed` digests: (pushed, left out)."""
    kept = Artifacts(store)
    found = kept.of(image_id)
    sent = [a for a in found if a.subject in pushed]
    for artifact in sent:
        referrers.push(repo, artifact, kept.folder, sources)
    return len(sent), len(found) - len(sent)
