"""The artifacts that refer to an image in a registry: found, fetched byte-exact, pushed again.

An artifact (signature, attestation, SBOM) refers to a manifest, its *subject*,
in one of two ways:

- OCI 1.1: its manifest has a `subject` descriptor. A registry with the referrers
  API lists such manifests at `GET /v2/NAME/referrers/DIGEST`; for one without it
  (any answer but a 200 index there) the referrers tag schema is read instead: the
  tag `sha256-HEX` names an index of them, which the client that pushes a referrer
  keeps up to date. Pushing does the same: when the registry does not answer the
  PUT with `OCI-Subject`, lamina adds the referrer to that tag's index.
- cosign's tag schema: the tags `sha256-HEX.sig`, `.att` and `.sbom` name a
  manifest of signatures, attestations or an SBOM for the manifest `sha256:HEX`.

Manifests and blobs travel as the bytes received (their digests, and so the
signatures, stay valid); only the referrers tag index is rebuilt, as the
distribution spec asks of clients. Each blob is written to `folder/HEX`, verified.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina import digest, mediatype, spec
from lamina.image import Artifact
from lamina.progress import Progress
from lamina.spec import Descriptor, Index

if TYPE_CHECKING:
    from lamina.transports.registry.repo import Repository

COSIGN_SUFFIXES = (".sig", ".att", ".sbom")
CHUNK = 16 << 20


def tag_of(subject: str, suffix: str = "") -> str:
    """The tag schema's name for `subject`: sha256-HEX, sha256-HEX.sig, ..."""
    return subject.replace(":", "-", 1) + suffix


def discover(repo: Repository, subject: str) -> list[tuple[Descriptor, str]]:
    """(manifest descriptor, cosign tag or "") of each artifact that refers to `subject`."""
    found: dict[str, tuple[Descriptor, str]] = {}
    for desc in referrers(repo, subject):
        found.setdefault(desc.digest, (desc, ""))
    for suffix in COSIGN_SUFFIXES:
        got = repo.find_manifest(tag_of(subject, suffix))
        if got is not None:
            raw, kind = got
            desc = Descriptor(kind or _media_type(raw), digest.of_bytes(raw), len(raw))
            found.setdefault(desc.digest, (desc, tag_of(subject, suffix)))
    return list(found.values())


def referrers(repo: Repository, subject: str) -> tuple[Descriptor, ...]:
    """OCI referrers of `subject`: through the referrers API, else the referrers tag."""
    resp = repo.session.request(
        "GET",
        f"/v2/{repo.name}/referrers/{subject}",
        what=f"referrers of {subject}",
        headers={"Accept": mediatype.OCI_INDEX},
        ok=(200, 400, 404, 405),
    )
    kind = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
    if resp.status_code == 200 and kind == mediatype.OCI_INDEX:
        return Index.parse(resp.content, f"referrers of {subject}").manifests
    got = repo.find_manifest(tag_of(subject))
    return Index.parse(got[0], f"referrers tag of {subject}").manifests if got else ()


def fetch(
    repo: Repository, desc: Descriptor, subject: str, tag: str, folder: Path
) -> Artifact | None:
    """Download one artifact into `folder`; None when it is not what it claims to be.

    An OCI referrer whose manifest names another subject (a stale tag index) is
    skipped, as is a nested index (no tool lamina knows of makes them).
    """
    raw, kind = repo.get_manifest(desc.digest)  # verified against desc.digest
    doc = spec.parse_json(raw, f"artifact {desc.digest}")
    media_type = str(doc.get("mediaType") or kind or desc.media_type)
    if media_type in mediatype.INDEXES or "manifests" in doc:
        return None
    named = (doc.get("subject") or {}).get("digest") if isinstance(doc, dict) else None
    if not tag and named not in (None, subject):
        return None
    blobs = [Descriptor.from_json(doc["config"], "artifact config")] if "config" in doc else []
    blobs += [Descriptor.from_json(x, "artifact layer") for x in doc.get("layers") or []]
    _write(folder, desc.digest, raw)
    null = Progress.null().task("", None)
    for blob in blobs:
        target = folder / digest.hex_of(blob.digest)
        if not target.exists():
            with repo.open_blob(blob.digest, blob.size, null) as stream:
                _write_stream(folder, target, stream.read)
    artifact_type = str(doc.get("artifactType") or "")
    return Artifact(desc.digest, media_type, len(raw), subject, tag, tuple(blobs), artifact_type)


def push(
    repo: Repository, artifact: Artifact, folder: Path, sources: Sequence[str], chunk: int = CHUNK
) -> None:
    """Push an artifact's blobs (there, mounted from `sources`, else uploaded), then its manifest.

    A referrer the registry does not index itself is added to its referrers tag.
    """
    null = Progress.null().task("", None)
    for blob in artifact.blobs:
        if repo.has_blob(blob.digest):
            continue
        location = None
        for source in (s for s in sources if s != repo.name):
            location = repo.mount(blob.digest, source)
            if location is None:
                break
        else:
            path = folder / digest.hex_of(blob.digest)
            repo.upload(location or repo.start_upload(), path, blob.digest, blob.size, null, chunk)
    raw = (folder / digest.hex_of(artifact.digest)).read_bytes()
    digest.check(artifact.digest, digest.of_bytes(raw), f"artifact {artifact.digest}")
    where = artifact.tag or artifact.digest
    _, indexed = repo.put_manifest_subject(where, raw, artifact.media_type)
    subject = spec.parse_json(raw, "artifact").get("subject")
    if not artifact.tag and isinstance(subject, dict) and not indexed:
        add_to_referrers_tag(repo, artifact, raw)


def add_to_referrers_tag(repo: Repository, artifact: Artifact, raw: bytes) -> None:
    """The client's half of the referrers tag schema: list the referrer in `sha256-HEX`."""
    tag = tag_of(artifact.subject)
    got = repo.find_manifest(tag)
    old = spec.parse_json(got[0], "referrers tag") if got else {}
    entries: list[Any] = list(old.get("manifests") or [])
    if any(isinstance(e, dict) and e.get("digest") == artifact.digest for e in entries):
        return
    doc = spec.parse_json(raw, "artifact")
    entry: dict[str, Any] = {
        "mediaType": artifact.media_type,
        "digest": artifact.digest,
        "size": artifact.size,
    }
    config = doc.get("config") or {}
    kind = artifact.artifact_type or (config.get("mediaType") if isinstance(config, dict) else "")
    if kind:
        entry["artifactType"] = kind
    if doc.get("annotations"):
        entry["annotations"] = doc["annotations"]
    index = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": [*entries, entry]}
    repo.put_manifest(tag, spec.canonical_json(index), mediatype.OCI_INDEX)


def index_entries(index_raw: bytes, manifest_digest: str) -> tuple[Descriptor, ...]:
    """Entries of a received index that refer to `manifest_digest` (buildx attestations)."""
    index = Index.parse(index_raw, "image index")
    key = "vnd.docker.reference.digest"
    return tuple(d for d in index.manifests if d.annotations.get(key) == manifest_digest)


def _media_type(raw: bytes) -> str:
    return str(spec.parse_json(raw, "artifact").get("mediaType") or mediatype.OCI_MANIFEST)


def _write(folder: Path, dig: str, raw: bytes) -> None:
    target = folder / digest.hex_of(dig)
    if not target.exists():
        _write_stream(folder, target, io.BytesIO(raw).read)


def _write_stream(folder: Path, target: Path, read: Callable[[int], bytes]) -> None:
    """Stream into a temp file beside `target`, then rename (a failure leaves nothing)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := read(digest.CHUNK):
                out.write(chunk)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
