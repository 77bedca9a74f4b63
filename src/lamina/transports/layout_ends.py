"""An OCI layout (a directory, or an oci-archive tar) as a source and a target of
transports/mirror.py: documents and blobs keep their bytes, so their digests.

As a source the layout's index.json names the top document: the entry whose
`org.opencontainers.image.ref.name` is the NAME asked for (or whose full name is, as
`load` names it), else its only entry. As a target the layout is new: blobs land
under `blobs/sha256/`, and `finish()` writes `index.json` with one entry for the top
document (ref.name = NAME when one is given, as skopeo writes it) and `oci-layout`.
A directory target is written beside its final path and renamed there by `finish()`;
a tar target writes into a stream the caller made with `atomic.output`, so a failure
leaves no layout and no file.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO

from lamina import digest, mediatype, reference
from lamina.atomic import replacing
from lamina.errors import ConflictError, InvalidInputError, NotFoundError, UsageError
from lamina.spec import REF_NAME, Descriptor, Index
from lamina.transports import archive_writer, oci_layout
from lamina.transports.documents import Document
from lamina.transports.mirror import Body
from lamina.transports.tarfs import ArchiveFS


class LayoutSource:
    def __init__(self, fs: ArchiveFS) -> None:
        self.fs = fs

    def top(self, name: str) -> Document:
        """The document index.json names `name` (its only one when `name` is "")."""
        index = Index.parse(self.fs.read_bytes("index.json"), f"{self.fs.label}: index.json")
        entries = index.manifests
        if name:
            wanted = {name, *_familiar(name)}
            entries = tuple(
                d
                for d in entries
                if d.annotations.get(REF_NAME) in wanted or oci_layout.name_of(d) in wanted
            )
            if not entries:
                raise NotFoundError(f"{self.fs.label} holds no image named {name}")
        if len(entries) != 1:
            names = ", ".join(d.annotations.get(REF_NAME, d.digest) for d in entries)
            raise UsageError(
                f"{self.fs.label} holds {len(entries)} images ({names})", "name one: PATH:NAME"
            )
        return self.document(entries[0])

    def document(self, desc: Descriptor) -> Document:
        return Document.of(oci_layout.read_blob(self.fs, desc, "manifest"), desc.media_type)

    def open_blob(self, blob: Descriptor) -> BinaryIO:
        path = oci_layout.blob_path(blob.digest)
        if not self.fs.exists(path):
            raise InvalidInputError(f"{self.fs.label}: blob {blob.digest} is missing")
        what = f"blob {blob.digest} in {self.fs.label}"
        return digest.VerifyingReader(self.fs.open(path), blob.digest, what)  # type: ignore[return-value]


def _familiar(name: str) -> list[str]:
    """How `load` would name `name`: as it is, and as a short ref.name (localhost/NAME)."""
    found = []
    for text in (name, f"{oci_layout.SHORT_NAME_DOMAIN}/{name}"):
        ref = reference.try_parse(text)
        if ref is not None:
            found.append(ref.familiar)
    return found


class _LayoutTarget:
    """What both kinds share: the written set and the index of the top document."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.written: set[str] = set()
        self.top: Descriptor | None = None

    def has_blob(self, blob: Descriptor) -> bool:
        return blob.digest in self.written

    def reuse(self, blob: Descriptor) -> bool:
        return False

    def put_document(self, doc: Document, top: bool) -> None:
        if doc.digest not in self.written:
            self._write(doc.digest, len(doc.raw), lambda: iter((doc.raw,)))
            self.written.add(doc.digest)
        if top:
            kind = doc.media_type or (
                mediatype.OCI_INDEX if doc.is_index else mediatype.OCI_MANIFEST
            )
            notes = {REF_NAME: self.name} if self.name else {}
            self.top = Descriptor(kind, doc.digest, len(doc.raw), notes)

    def put_blob(self, blob: Descriptor, body: Body) -> None:
        self._write(blob.digest, blob.size, body)
        self.written.add(blob.digest)

    def _write(self, dig: str, size: int, body: Body) -> None:
        raise NotImplementedError

    def _index_files(self) -> dict[str, bytes]:
        assert self.top is not None, "finish() before the top document was put"
        marker = json.dumps({"imageLayoutVersion": mediatype.OCI_LAYOUT_VERSION}).encode()
        return {"oci-layout": marker, "index.json": Index.build([self.top])}


class DirTarget(_LayoutTarget):
    """A new layout directory at `root` (absent or empty), renamed into place at the end."""

    workers = 3

    def __init__(self, root: Path, name: str) -> None:
        super().__init__(name)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ConflictError(f"{root} exists and is not empty", "name a new directory")
        root.parent.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        (self.staging / "blobs" / "sha256").mkdir(parents=True)

    def _write(self, dig: str, size: int, body: Body) -> None:
        with replacing(self.staging / oci_layout.blob_path(dig), mode=0o666, durable=False) as f:
            for chunk in body():
                f.write(chunk)

    def finish(self) -> None:
        for name, data in self._index_files().items():
            (self.staging / name).write_bytes(data)
        self.rename()

    def rename(self) -> None:
        """Put the staged layout in place (an empty directory there is replaced)."""
        if self.root.exists():
            self.root.rmdir()
        os.rename(self.staging, self.root)

    def abandon(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


class TarTarget(_LayoutTarget):
    """An oci-archive written into `out` as blobs arrive; `finish()` ends the tar."""

    workers = 1  # members follow one another

    def __init__(self, out: BinaryIO, name: str) -> None:
        super().__init__(name)
        self.out = out
        self.size = 0
        for directory in ("blobs", "blobs/sha256"):
            self._put(archive_writer.tar_header(directory, 0, directory=True))

    def _write(self, dig: str, size: int, body: Body) -> None:
        self._put(archive_writer.tar_header(oci_layout.blob_path(dig), size))
        for chunk in body():
            self._put(chunk)
        self._put(bytes(-size % tarfile.BLOCKSIZE))

    def finish(self) -> None:
        for name, data in self._index_files().items():
            self._put(archive_writer.tar_header(name, len(data)) + data)
            self._put(bytes(-len(data) % tarfile.BLOCKSIZE))
        self._put(bytes(2 * tarfile.BLOCKSIZE))
        self._put(bytes(-self.size % tarfile.RECORDSIZE))

    def abandon(self) -> None:
        pass  # atomic.output drops the file

    def _put(self, data: bytes) -> None:
        self.out.write(data)
        self.size += len(data)
