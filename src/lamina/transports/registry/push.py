"""Push an image to a registry: blobs first (skipped, mounted or uploaded), the manifest last.

For each blob, cheapest first: a HEAD where lamina remembers it is; a
cross-repository mount from another repository of the same registry that holds
it; else compress it to a temp file (hashing as it goes, so the digest is known
before the upload starts), HEAD that digest, and upload. Layers travel in
parallel, compressed one at a time on one thread while others upload: a compressor's
output churns its thread's glibc arena, and one per worker grew the heap (design §11.1).
What was learned is returned, for the caller to remember; nothing here knows the store.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from lamina import digest, mediatype
from lamina.image import Image, Layer, Opener
from lamina.layer import compression as codec
from lamina.progress import Progress
from lamina.spec import canonical_json

if TYPE_CHECKING:  # the HTTP side (httpx) loads only when a session opens
    from lamina.transports.registry.repo import Repository

CHUNK_SIZE = 64 << 20  # blobs above this go up in PATCH chunks of this size
WORKERS = 3
COMPRESSIONS = ("gzip", "zstd", "none")
# Input goes to the compressor in pieces this size, so each compressed output it returns
# (a fresh bytes) stays small: 1 MiB pieces gave outputs of every size up to 1 MiB, the
# churn that fragmented glibc's heap to 130-200 MB RSS at 3 GB (docs/design.md §11.1).
_FEED = 64 << 10


class KnownBlob(Protocol):
    """A compressed form of a blob lamina has seen before (lamina.store.blobinfo.Known)."""

    @property
    def digest(self) -> str: ...

    @property
    def size(self) -> int: ...

    def repos_on(self, registry: str) -> tuple[str, ...]: ...


# (uncompressed digest, compression) -> known compressed forms, this registry's first
Lookup = Callable[[str, str], Sequence[KnownBlob]]


@dataclass(frozen=True)
class Options:
    compression: str = "gzip"  # "gzip", "zstd" or "" (none)
    docker_format: bool = False  # Docker v2 schema 2 manifest instead of OCI
    chunk_size: int = CHUNK_SIZE
    workers: int = WORKERS


@dataclass(frozen=True)
class SentBlob:
    """How one blob reached the repository: "pushed", "exists" or "mounted" (from `source`)."""

    uncompressed: str
    compression: str
    digest: str
    size: int
    media_type: str
    how: str
    source: str = ""


@dataclass(frozen=True)
class PushResult:
    repository: str
    tag: str
    manifest_digest: str
    manifest_size: int
    media_type: str
    config: SentBlob
    layers: tuple[SentBlob, ...]
    raw: bytes = b""  # the manifest as sent


@dataclass(frozen=True)
class _Job:
    uncompressed: str
    plain_size: int
    open_plain: Opener
    compression: str
    media_type: str


class Pusher:
    def __init__(
        self,
        repo: Repository,
        lookup: Lookup,
        scratch: Path,
        options: Options,
        progress: Progress,
    ) -> None:
        self.repo = repo
        self.registry = repo.session.host
        self.lookup = lookup
        self.scratch = scratch
        self.options = options
        self.progress = progress
        self._stop = threading.Event()  # set when one layer failed: the others give up

    def push(self, image: Image, tag: str) -> PushResult:
        image.check_consistent()
        opts = self.options
        layer_type = mediatype.layer_type(opts.compression, docker=opts.docker_format)
        jobs = [
            _Job(x.diff_id, x.size, _plain_opener(x), opts.compression, layer_type)
            for x in image.layers
        ]
        layers = self._run_all(jobs)
        config_type = mediatype.DOCKER_CONFIG if opts.docker_format else mediatype.OCI_CONFIG
        config = self.push_config(image.id, image.config.raw, config_type)
        media_type, manifest = self._manifest(image, config, layers)
        mdig = self.repo.put_manifest(tag, manifest, media_type)
        return PushResult(
            self.repo.name, tag, mdig, len(manifest), media_type, config, tuple(layers), manifest
        )

    def push_config(self, dig: str, raw: bytes, media_type: str) -> SentBlob:
        """A config travels as it is: HEAD, else upload."""
        return self._push_blob(_Job(dig, len(raw), _bytes_opener(raw), "", media_type))

    def _run_all(self, jobs: list[_Job]) -> list[SentBlob]:
        """Push distinct layers in parallel; a repeated layer is pushed once."""
        unique = list({j.uncompressed: j for j in jobs}.values())
        if self.options.workers <= 1 or len(unique) <= 1:
            done = {j.uncompressed: self._push_blob(j) for j in unique}
        else:
            with (
                ThreadPoolExecutor(1, thread_name_prefix="compress") as squeeze,
                ThreadPoolExecutor(self.options.workers, thread_name_prefix="push") as pool,
            ):
                futures = {j.uncompressed: pool.submit(self._push_blob, j, squeeze) for j in unique}
                try:
                    wait(futures.values(), return_when=FIRST_EXCEPTION)
                    for f in futures.values():  # the first failure, not the first in order
                        if f.done() and f.exception() is not None:
                            f.result()
                    done = {k: f.result() for k, f in futures.items()}
                except BaseException:
                    self._stop.set()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        return [done[j.uncompressed] for j in jobs]

    # -- one blob -------------------------------------------------------------------

    def _push_blob(self, job: _Job, squeeze: Executor | None = None) -> SentBlob:
        """Push one blob; `squeeze`, if given, is the one thread that compresses."""
        known = list(self.lookup(job.uncompressed, job.compression))
        if job.compression == "" and not any(k.digest == job.uncompressed for k in known):
            known.append(_Plain(job.uncompressed, job.plain_size))  # its digest is known already
        checked: set[str] = set()
        for k in known[:4]:
            if self._here_maybe(k) and self.repo.has_blob(k.digest):
                return self._sent(job, k.digest, k.size, "exists")
            checked.add(k.digest)
        location = None
        for k in known:
            source = next((r for r in k.repos_on(self.registry) if r != self.repo.name), "")
            if source:
                location = self.repo.mount(k.digest, source)
                if location is None:
                    return self._sent(job, k.digest, k.size, "mounted", source)
                break  # one refused mount is enough: its upload session is reused below
        if squeeze is None:
            path, dig, size = self._compress(job)
        else:  # queued: layers compress one at a time, in order
            path, dig, size = squeeze.submit(self._compress, job).result()
        try:
            if dig not in checked and self.repo.has_blob(dig):
                return self._sent(job, dig, size, "exists")
            if self._stop.is_set():
                raise InterruptedError("another layer failed")
            task = self.progress.task(f"{_short(job.uncompressed)} pushing", size)
            self.repo.upload(
                location or self.repo.start_upload(), path, dig, size, task, self.options.chunk_size
            )
            task.done()
        finally:
            path.unlink(missing_ok=True)
        return self._sent(job, dig, size, "pushed")

    def _here_maybe(self, k: KnownBlob) -> bool:
        """Worth a HEAD: seen in this repository, or never seen on this registry at all."""
        repos = k.repos_on(self.registry)
        return self.repo.name in repos or not repos

    def _compress(self, job: _Job) -> tuple[Path, str, int]:
        """Compress to a temp file beside the store, hashing the compressed bytes."""
        label = "compressing" if job.compression else "preparing"
        task = self.progress.task(f"{_short(job.uncompressed)} {label}", job.plain_size)
        fd, name = tempfile.mkstemp(dir=self.scratch, prefix=".push-")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as raw, job.open_plain() as plain:
                out = digest.HashingWriter(raw)
                buf = memoryview(bytearray(digest.CHUNK))  # one per layer, reused: see §11.1
                with codec.compressor(out, job.compression) as sink:  # type: ignore[arg-type]
                    while n := digest.read_into(plain, buf):
                        if self._stop.is_set():
                            raise InterruptedError("another layer failed")
                        for at in range(0, n, _FEED):  # small outputs too: see _FEED
                            sink.write(buf[at : min(at + _FEED, n)])
                        task.advance(n)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        task.done()
        return path, out.hasher.digest, out.hasher.size

    def _sent(self, job: _Job, dig: str, size: int, how: str, source: str = "") -> SentBlob:
        return SentBlob(job.uncompressed, job.compression, dig, size, job.media_type, how, source)

    # -- the manifest -----------------------------------------------------------------

    def _manifest(
        self, image: Image, config: SentBlob, layers: list[SentBlob]
    ) -> tuple[str, bytes]:
        docker = self.options.docker_format
        kind = mediatype.DOCKER_MANIFEST if docker else mediatype.OCI_MANIFEST
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": kind,
            "config": _descriptor(config),
            "layers": [_descriptor(x) for x in layers],
        }
        if image.annotations and not docker:
            doc["annotations"] = dict(image.annotations)
        return kind, canonical_json(doc)


@dataclass(frozen=True)
class _Plain:
    """An uncompressed blob: its digest is known before anything is read."""

    digest: str
    size: int

    def repos_on(self, registry: str) -> tuple[str, ...]:
        return ()


def _descriptor(blob: SentBlob) -> dict[str, Any]:
    return {"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size}


def _plain_opener(layer: Layer) -> Opener:
    """The uncompressed tar of a layer, whatever form its source keeps it in."""

    def open_plain() -> BinaryIO:
        blob = layer.open_blob()
        _, stream = codec.auto_decompressed(blob)
        return _Closing(stream, blob)  # type: ignore[return-value]

    return open_plain


def _bytes_opener(data: bytes) -> Opener:
    return lambda: io.BytesIO(data)


class _Closing:
    """A decompressed stream that closes its underlying blob too."""

    def __init__(self, stream: BinaryIO, blob: BinaryIO) -> None:
        self._stream, self._blob = stream, blob

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def readinto(self, buffer: memoryview) -> int:
        return digest.read_into(self._stream, buffer)

    def __enter__(self) -> _Closing:
        return self

    def __exit__(self, *exc: object) -> None:
        self._blob.close()


def _short(dig: str) -> str:
    return digest.short(dig)
