"""Push a received multi-platform index unchanged, so its digest (and signatures) stay valid.

An image pulled from an index is one of its platforms; the index names the
others too (and buildx's attestation manifests). The index can go up as it was
received only when every manifest it names can be in the target repository:
there already, kept in the store (the image itself, an attestation pulled with
`--with-referrers`), or copied from a repository of the same registry that
holds it (its manifest read, its blobs mounted). That is planned for every entry
before anything is written; then the entries go up by digest and the index last,
under the tag. When one entry is out of reach the caller gets the reason and
pushes the platform manifest alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lamina import digest, mediatype, spec
from lamina.errors import LaminaError, RegistryError
from lamina.image import Artifact
from lamina.spec import Descriptor, Index
from lamina.transports.registry import referrers

if TYPE_CHECKING:
    from lamina.transports.registry.repo import Repository


@dataclass(frozen=True)
class _Copy:
    """A manifest of another repository of the registry: its bytes, its blobs to mount."""

    source: Repository
    desc: Descriptor
    raw: bytes
    blobs: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    index_raw: bytes
    media_type: str
    kept: tuple[Artifact, ...]
    copies: tuple[_Copy, ...]

    @property
    def digest(self) -> str:
        return digest.of_bytes(self.index_raw)


def plan(
    repo: Repository,
    index_raw: bytes,
    own: str,
    kept: Mapping[str, Artifact],
    sources: Sequence[str],
) -> Plan | str:
    """How each entry of the index gets to `repo`, or why one cannot (nothing written)."""
    try:
        index = Index.parse(index_raw, "the received index")
    except LaminaError as exc:
        return f"the kept index does not parse ({exc})"
    media_type = str(spec.parse_json(index_raw, "index").get("mediaType") or mediatype.OCI_INDEX)
    found: list[Artifact] = []
    copies: list[_Copy] = []
    for desc in index.manifests:
        if desc.digest == own:
            continue
        if desc.digest in kept:
            found.append(kept[desc.digest])
        elif not repo.has_manifest(desc.digest):
            copy = _copy_from(repo, desc, sources)
            if copy is None:
                return (
                    f"{_label(desc)} of the index is not in the store nor in a repository "
                    f"of {repo.session.host} lamina knows"
                )
            copies.append(copy)
    return Plan(index_raw, media_type, tuple(found), tuple(copies))


def push(repo: Repository, plan: Plan, folder: Path, tag: str) -> str:
    """Every entry by digest, then the index under `tag`; the index digest."""
    for artifact in plan.kept:
        referrers.push(repo, artifact, folder, ())
    for copy in plan.copies:
        for blob in copy.blobs:
            if not repo.has_blob(blob) and repo.mount(blob, copy.source.name) is not None:
                raise _unmountable(repo, blob, copy.source.name)
        repo.put_manifest(copy.desc.digest, copy.raw, copy.desc.media_type)
    return repo.put_manifest(tag, plan.index_raw, plan.media_type)


def _copy_from(repo: Repository, desc: Descriptor, sources: Sequence[str]) -> _Copy | None:
    from lamina.transports.registry.repo import Repository

    for name in sources:
        source = Repository(repo.session, name)
        got = source.find_manifest(desc.digest)
        if got is None:
            continue
        doc = spec.parse_json(got[0], f"manifest {desc.digest}")
        if "manifests" in doc:
            return None  # a nested index: not followed
        blobs = [doc.get("config") or {}, *(doc.get("layers") or [])]
        digests = tuple(str(b.get("digest")) for b in blobs if isinstance(b, dict) and b)
        if all(source.has_blob(d) for d in digests):
            return _Copy(source, desc, got[0], digests)
    return None


def _label(desc: Descriptor) -> str:
    what = f"platform {desc.platform}" if desc.platform else "manifest"
    if desc.annotations.get("vnd.docker.reference.type"):
        what = "attestation"
    return f"{what} {digest.short(desc.digest, algorithm=True)}"


def _unmountable(repo: Repository, blob: str, source: str) -> LaminaError:
    return RegistryError(
        f"{repo.session.host} would not mount {blob} from {source} into {repo.name}",
        "push again; the index was not written",
    )
