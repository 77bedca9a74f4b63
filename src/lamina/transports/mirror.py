"""Copy an image's documents and blobs from a source to a target, byte for byte.

    done = mirror(source, target, top, progress)   # then target.finish()

Children first, the top document last: for an index, each manifest it lists (with its
blobs) is put by digest, then the index itself, which the target names; so a reader
never sees a name whose blobs are missing. Per blob, cheapest first: the target has it;
the target can reuse it without the bytes (a registry's cross-repository mount); else
the bytes stream from the source into the target, never held whole, a few blobs at
once where the target takes them so (a registry, a directory). Every blob is
checked against its descriptor's size and digest as it streams, before the target
commits it; on any failure no document has been named at the target (what a target
leaves behind then is its own contract: see registry/ends.py and layout_ends.py).
Sources and targets: a registry repository, an OCI layout (directory or tar).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from lamina import digest
from lamina.errors import InvalidInputError
from lamina.progress import Progress
from lamina.spec import Descriptor
from lamina.transports.documents import Document

MAX_DEPTH = 4
CHUNK = 1 << 20

Body = Callable[[], Iterator[bytes]]  # replayable: each call streams the blob afresh


class Source(Protocol):
    def document(self, desc: Descriptor) -> Document:
        """The manifest or index `desc` names, verified against its digest."""
        ...

    def open_blob(self, blob: Descriptor) -> BinaryIO:
        """The blob's bytes; the stream checks the digest when its end is read."""
        ...


class Target(Protocol):
    workers: int  # blobs it takes at once (a tar takes one: its members are sequential)

    def has_blob(self, blob: Descriptor) -> bool: ...

    def reuse(self, blob: Descriptor) -> bool:
        """Make the blob present without its bytes (a mount); False when it cannot."""
        ...

    def put_blob(self, blob: Descriptor, body: Body) -> None: ...

    def put_document(self, doc: Document, top: bool) -> None:
        """Store a manifest or index; `top` is the one the target names."""
        ...


@dataclass
class Mirrored:
    """What a copy did: blob digests by how they reached the target."""

    copied: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # children by digest, then the top

    def seen(self, dig: str) -> bool:
        return dig in self.copied or dig in self.mounted or dig in self.existed


def mirror(source: Source, target: Target, top: Document, progress: Progress) -> Mirrored:
    """Put `top` and everything it names into `target` (see the module doc)."""
    done = Mirrored()
    _document(source, target, top, True, progress, done, 0)
    return done


def _document(
    source: Source,
    target: Target,
    doc: Document,
    top: bool,
    progress: Progress,
    done: Mirrored,
    depth: int,
) -> None:
    if doc.is_index:
        if depth >= MAX_DEPTH:
            raise InvalidInputError(f"image index {doc.digest} nests indexes too deeply")
        for child in doc.children():
            _document(source, target, source.document(child), False, progress, done, depth + 1)
    else:
        _blobs(source, target, doc.blobs(), progress, done)
    target.put_document(doc, top)
    done.documents.append(doc.digest)


def _blobs(
    source: Source,
    target: Target,
    blobs: tuple[Descriptor, ...],
    progress: Progress,
    done: Mirrored,
) -> None:
    """A manifest's blobs, `target.workers` at once; the first failure stops the rest."""
    todo = list({b.digest: b for b in blobs if not done.seen(b.digest)}.values())
    stop = threading.Event()  # set on the first failure: the other streams break off
    if target.workers <= 1 or len(todo) <= 1:
        for blob in todo:
            _blob(source, target, blob, progress, done, stop)
        return
    with ThreadPoolExecutor(target.workers, thread_name_prefix="copy") as pool:
        futures = [pool.submit(_blob, source, target, b, progress, done, stop) for b in todo]
        try:
            for f in as_completed(futures):  # the first failure, as soon as it happens
                f.result()
        except BaseException:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _blob(
    source: Source,
    target: Target,
    blob: Descriptor,
    progress: Progress,
    done: Mirrored,
    stop: threading.Event,
) -> None:
    if done.seen(blob.digest):
        return
    if target.has_blob(blob):
        done.existed.append(blob.digest)
        return
    if target.reuse(blob):
        done.mounted.append(blob.digest)
        return
    task = progress.task(f"{digest.short(blob.digest)} copying", blob.size)

    def body() -> Iterator[bytes]:
        sent = 0
        with source.open_blob(blob) as stream:
            while chunk := stream.read(CHUNK):  # the last read (b"") checks the digest
                if stop.is_set():
                    raise InterruptedError("another blob failed")
                sent += len(chunk)
                if sent > blob.size:
                    break
                task.advance(len(chunk))
                yield chunk
        if sent != blob.size:
            raise InvalidInputError(
                f"blob {blob.digest} is {'longer' if sent > blob.size else 'shorter'} than "
                f"the {blob.size} bytes its descriptor says",
                "the source holds a damaged blob",
            )

    target.put_blob(blob, body)
    task.done()
    done.copied.append(blob.digest)
