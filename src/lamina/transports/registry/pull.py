"""Read an image from a registry as an Image value whose layers stream from it.

Nothing is downloaded here but the manifest (or index, then the platform's
manifest) and the config: layers are opened only when a copy asks for them, so
layers the destination already has (by diff_id) never leave the registry. Every
document and blob is checked against its digest as it arrives.

`download_layers` fetches the layers a store lacks, a few at once (as Docker and
skopeo do), decompressing each as it streams into a temp file the caller adopts;
the first failure stops the others.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import zstandard
from isal.isal_zlib import error as IsalError

from lamina import digest, mediatype, spec
from lamina.errors import InvalidInputError
from lamina.image import Image, Layer, Opener
from lamina.layer import compression
from lamina.progress import Progress
from lamina.spec import Config, Descriptor, Index, Manifest, Platform
from lamina.transports.oci_layout import choose_platform

if TYPE_CHECKING:  # the HTTP side (httpx) loads only when a session opens
    from lamina.transports.registry.repo import Repository

WORKERS = 3  # layers downloading at once (Docker's max-concurrent-downloads is 3)
# what the gzip and zstd decoders raise on damaged data
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    EOFError,
    IsalError,  # type: ignore[assignment]  # isal's stub declares it an instance
    zstandard.ZstdError,
)


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


def download_layers(
    layers: Sequence[Layer], tmp_dir: Path, workers: int = WORKERS
) -> Iterator[tuple[Path, str]]:
    """(uncompressed file in `tmp_dir`, diff_id) per distinct layer, as each completes.

    At most `workers` at once; each is verified (compressed digest and size at the
    end of the blob, diff_id of what it decompressed to). On the first failure the
    others stop and the error is raised; files not yet yielded are removed.
    """
    todo = list({x.diff_id: x for x in layers}.values())
    stop = threading.Event()
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="pull") as pool:
        owner: dict[Future[Path], str] = {
            pool.submit(_download, x, tmp_dir, stop): x.diff_id for x in todo
        }
        pending, yielded = set(owner), set()
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result(), owner[f]
                    yielded.add(f)
        except BaseException:
            stop.set()
            for f in owner:
                f.cancel()
            wait(owner)
            for f in owner:
                if f not in yielded and not f.cancelled() and f.exception() is None:
                    f.result().unlink(missing_ok=True)
            raise


def _download(layer: Layer, tmp_dir: Path, stop: threading.Event) -> Path:
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="pull-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, layer.open_blob() as blob:
            hasher = digest.Hasher()
            _, plain = compression.auto_decompressed(blob)
            buf = memoryview(bytearray(digest.CHUNK))  # reused: no 1 MiB bytes per read
            while n := digest.read_into(plain, buf):
                if stop.is_set():
                    raise InterruptedError("another layer failed")
                hasher.update(buf[:n])
                out.write(buf[:n])
            while blob.read(digest.CHUNK):  # compressed trailers: the blob's digest covers all
                pass
        digest.check(layer.diff_id, hasher.digest, f"layer {layer.diff_id} (uncompressed)")
    except _DECODE_ERRORS as exc:
        path.unlink(missing_ok=True)
        raise InvalidInputError(
            f"layer {digest.short(layer.digest, algorithm=True)} does not decompress ({exc})",
            "the registry holds a damaged blob; push the image again",
        ) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
