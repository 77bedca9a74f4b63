"""Read an image from a registry as an Image value whose layers stream from it.

Nothing is downloaded here but the manifest (or index, then the platform's
manifest) and the config: layers are opened only when a copy asks for them, so
layers the destination already has (by diff_id) never leave the registry. Every
document and blob is checked against its digest as it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from lamina import digest, mediatype, spec
from lamina.errors import InvalidInputError
from lamina.image import Image, Layer, Opener
from lamina.progress import Progress
from lamina.spec import Config, Descriptor, Index, Manifest, Platform
from lamina.transports.oci_layout import choose_platform

if TYPE_CHECKING:  # the HTTP side (httpx) loads only when a session opens
    from lamina.transports.registry.repo import Repository


@dataclass(frozen=True)
class RemoteImage:
    """What a reference points at: the image, its manifest and (for multi-arch) the index."""

    image: Image
    manifest: Manifest
    manifest_digest: str
    index_digest: str  # "" when the reference names a manifest directly
    config_media_type: str
    received: dict[str, bytes]  # digest -> manifest (and index) bytes as the registry sent them
    media_type: str  # the manifest's, as the registry said or the manifest says

    @property
    def digest(self) -> str:
        """What the reference resolves to (index digest for multi-platform images)."""
        return self.index_digest or self.manifest_digest


def fetch(
    repo: Repository,
    ref: str,
    *,
    platform: Platform | None = None,
    progress: Progress | None = None,
    name: str = "",
) -> RemoteImage:
    """Resolve `ref` (tag or digest) to one image; layers stay in the registry until opened."""
    progress = progress or Progress.null()
    raw, kind = repo.get_manifest(ref)
    index_digest = ""
    received: dict[str, bytes] = {}
    if _is_index(raw, kind):
        index = Index.parse(raw, f"image index {repo.name}:{ref}")
        label = f"{repo.session.host}/{repo.name}:{ref}"
        chosen = choose_platform(_image_entries(index), platform, label)[0]
        index_digest = digest.of_bytes(raw)
        received[index_digest] = raw
        raw, kind = repo.get_manifest(chosen.digest)
        kind = kind or chosen.media_type
    manifest = Manifest.parse(raw, kind if kind in mediatype.MANIFESTS else "")
    received[manifest.digest] = raw
    mediatype.check_config(manifest.config.media_type)
    null = Progress.null().task("", None)
    config = Config.parse(repo.read_blob(manifest.config.digest, manifest.config.size, null))
    if len(manifest.layers) != len(config.diff_ids):
        raise InvalidInputError(
            f"manifest {manifest.digest} of {repo.name} has {len(manifest.layers)} layers "
            f"but its config lists {len(config.diff_ids)}",
            "the image in the registry is broken; push it again",
        )
    layers = tuple(
        Layer(diff_id, d.digest, d.size, d.media_type, _opener(repo, d, progress))
        for d, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
    )
    image = Image(config, layers, (name,) if name else (), manifest.annotations)
    return RemoteImage(
        image,
        manifest,
        manifest.digest,
        index_digest,
        manifest.config.media_type,
        received,
        manifest.media_type or kind or mediatype.OCI_MANIFEST,
    )


def _is_index(raw: bytes, kind: str) -> bool:
    if kind in mediatype.INDEXES:
        return True
    if kind in mediatype.MANIFESTS:
        return False
    # a registry that does not say: an index has "manifests", an image manifest "config"
    doc = spec.parse_json(raw, "manifest")
    return "manifests" in doc and "config" not in doc


def _image_entries(index: Index) -> tuple[Descriptor, ...]:
    """Index entries that are images (not attestations or nested indexes)."""
    found = tuple(
        d for d in index.manifests if d.media_type in mediatype.MANIFESTS or not d.media_type
    )
    if not found:
        raise InvalidInputError("the image index lists no image manifests")
    return tuple(d for d in found if not (d.platform and d.platform.os == "unknown")) or found


def _opener(repo: Repository, desc: Descriptor, progress: Progress) -> Opener:
    def open_blob() -> BinaryIO:
        task = progress.task(f"{digest.short(desc.digest)} pulling", desc.size)
        return repo.open_blob(desc.digest, desc.size, task)

    return open_blob
