"""A registry repository as a source and a target of transports/mirror.py.

As a target: a blob the repository has is left alone; on the same registry a blob is
mounted from the source repository; else the source's stream is the body of one
monolithic upload PUT (Content-Length and digest given), so nothing is spooled. A
stream that fails its check breaks the PUT off before the registry commits the blob,
and the registry checks the digest once more. Children go up by digest, the top
document under the target's tag: until that last PUT nothing is named, and blobs
already sent stay unreferenced for the registry's garbage collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from lamina import mediatype
from lamina.progress import Progress
from lamina.spec import Descriptor
from lamina.transports.documents import Document
from lamina.transports.mirror import Body
from lamina.transports.registry import browse

WORKERS = 3  # blobs in flight at once, as pull and push do

if TYPE_CHECKING:
    from lamina.transports.registry.repo import Repository


class RegistrySource:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    def document(self, desc: Descriptor) -> Document:
        return browse.get(self.repo, desc.digest, desc.media_type)

    def open_blob(self, blob: Descriptor) -> BinaryIO:
        return self.repo.open_blob(blob.digest, blob.size, Progress.null().task("", None))


class RegistryTarget:
    workers = WORKERS

    def __init__(self, repo: Repository, tag: str, mount_from: Repository | None) -> None:
        self.repo = repo
        self.tag = tag
        # a repository of the same registry the blobs can be mounted from
        same = mount_from is not None and mount_from.session.host == repo.session.host
        self.mount_from = mount_from.name if same and mount_from is not None else ""
        self._sessions: dict[str, str] = {}  # digest -> the upload a refused mount opened

    def has_blob(self, blob: Descriptor) -> bool:
        return self.repo.has_blob(blob.digest)

    def reuse(self, blob: Descriptor) -> bool:
        if not self.mount_from or self.mount_from == self.repo.name:
            return False
        location = self.repo.mount(blob.digest, self.mount_from)
        if location is not None:
            self._sessions[blob.digest] = location
        return location is None

    def put_blob(self, blob: Descriptor, body: Body) -> None:
        location = self._sessions.pop(blob.digest, None) or self.repo.start_upload()
        self.repo.session.request(
            "PUT",
            location,
            what=f"upload of {blob.digest} to {self.repo.name}",
            params={"digest": blob.digest},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)},
            body=body,
            ok=(201,),
        )

    def put_document(self, doc: Document, top: bool) -> None:
        # umoci's manifests declare no media type: an OCI one is what they are
        kind = doc.media_type or (mediatype.OCI_INDEX if doc.is_index else mediatype.OCI_MANIFEST)
        self.repo.put_manifest(self.tag if top else doc.digest, doc.raw, kind)
