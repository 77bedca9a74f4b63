"""Copy an image between repositories, byte for byte: the same manifests, the same digests.

    mirror(src, dst, served, "1", progress)   # served = browse.get(src, "1")

Children first, the named document last: for an index, each manifest it lists (with
its blobs) goes up by digest, then the index under the tag; so a reader never sees a
tag whose blobs are missing. Per blob, cheapest first: a HEAD (the target has it);
on the same registry a cross-repository mount; else the blob streams from the source's
GET straight into the target's PUT, never held whole, and the source stream checks
size and digest at its end, so a damaged blob breaks the PUT off before the registry
commits it (the registry checks the digest again). On any failure no manifest or tag
has been written for the document that failed; blobs already copied stay, unreferenced,
for the registry's garbage collection, as with an interrupted `docker push`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lamina import digest
from lamina.errors import InvalidInputError
from lamina.progress import Progress
from lamina.spec import Descriptor
from lamina.transports.registry import browse
from lamina.transports.registry.repo import SLICE

if TYPE_CHECKING:
    from lamina.transports.registry.repo import Repository

MAX_DEPTH = 4


@dataclass
class Mirrored:
    """What a copy did: blob digests by how they reached the target."""

    copied: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)  # children put by digest, then the top


def mirror(
    src: Repository, dst: Repository, served: browse.Served, tag: str, progress: Progress
) -> Mirrored:
    """Put `served` (read from `src`) and all it names into `dst` as `tag` (or its digest)."""
    done = Mirrored()
    _document(src, dst, served, tag, progress, done, 0)
    return done


def _document(
    src: Repository,
    dst: Repository,
    served: browse.Served,
    tag: str,
    progress: Progress,
    done: Mirrored,
    depth: int,
) -> None:
    if served.is_index:
        if depth >= MAX_DEPTH:
            raise InvalidInputError(f"image index {served.digest} nests indexes too deeply")
        for child in browse.children(served):
            got = browse.get(src, child.digest)
            kind = got.media_type or child.media_type
            child_doc = browse.Served(got.raw, kind, got.digest)
            _document(src, dst, child_doc, "", progress, done, depth + 1)
    else:
        for blob in browse.blobs(served):
            copy_blob(src, dst, blob, progress, done)
    dst.put_manifest(tag or served.digest, served.raw, served.media_type)
    done.manifests.append(served.digest)


def copy_blob(
    src: Repository, dst: Repository, blob: Descriptor, progress: Progress, done: Mirrored
) -> None:
    dig = blob.digest
    if dig in done.copied + done.mounted + done.existed:
        return
    if dst.has_blob(dig):
        done.existed.append(dig)
        return
    location = None
    if src.session.host == dst.session.host and src.name != dst.name:
        location = dst.mount(dig, src.name)
        if location is None:
            done.mounted.append(dig)
            return
    location = location or dst.start_upload()
    task = progress.task(f"{digest.short(dig)} copying", blob.size)

    def body() -> Iterator[bytes]:  # a factory: a re-sent request opens a fresh GET
        with src.open_blob(dig, blob.size, task) as stream:
            while chunk := stream.read(SLICE):
                yield chunk  # the last read (b"") checks size and digest

    dst.session.request(
        "PUT",
        location,
        what=f"upload of {dig} to {dst.name}",
        params={"digest": dig},
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)},
        body=body,
        ok=(201,),
    )
    task.done()
    done.copied.append(dig)
