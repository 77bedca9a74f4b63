"""Copy an image's documents and blobs from a source to a target, byte for byte.

    done = mirror(source, target, top, progress)   # then target.finish()

Children first, the top document last: for an index, each manifest it lists (with its
blobs) is put by digest, then the index itself, which the target names; so a reader
never sees a name whose blobs are missing. Per blob, cheapest first: the target has it;
the target can reuse it without the bytes (a registry's cross-repository mount); else
the bytes stream from the source into the target, never held whole. Every blob is
checked against its descriptor's size and digest as it streams, before the target
commits it; on any failure no document has been named at the target (what a target
leaves behind then is its own contract: see registry/ends.py and layout_ends.py).
Sources and targets: a registry repository, an OCI layout (directory or tar).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
        for blob in doc.blobs():
            _blob(source, target, blob, progress, done)
    target.put_document(doc, top)
    done.documents.append(doc.digest)


def _blob(
    source: Source, target: Target, blob: Descriptor, progress: Progress, done: Mirrored
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
