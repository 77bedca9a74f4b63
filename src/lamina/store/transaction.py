"""A store transaction: every change to a store, staged, then applied all at once.

    with store.transaction() as tx:
        manifest = tx.put_image(image)       # layers, config, manifest
        tx.keep(manifest, "local/app:2")     # or tx.keep(manifest) for a <none> image

Contract (umoci's oci/cas style; each method adds its own below):
- Nothing is visible in the store until the `with` block ends without an error; then
  commit() moves the staged blobs in, replaces index.json atomically (the moment the
  change becomes visible) and only then moves doomed blobs to the trash, all under
  the journal (store/journal.py), so a writer killed half-way is settled by the next.
  A commit whose new roots name a blob the store lacks is refused. An error in the
  block, or a refused commit, aborts: staged files are removed and the store is byte
  for byte as it was.
- Every blob is verified before it is staged: hashed as it streams in and checked
  against the digest it is expected to have. A blob already present is not staged twice.
- Reads through a transaction see its own writes. A Layer handed out by `layer()` (or
  opened from this transaction as a sink) keeps opening after commit: it resolves to
  the store's blob then; after an abort, what was only staged is gone (NotFoundError).
- One transaction at a time per store (the store's lock is held for its whole life).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lamina import digest, mediatype
from lamina.errors import LaminaError, NotFoundError
from lamina.image import Image, Layer
from lamina.layer.indexfile import Building, IndexBuilder
from lamina.progress import Progress
from lamina.spec import Descriptor, Manifest
from lamina.store import journal
from lamina.store.cas import stream_to_temp
from lamina.store.ingest import find_missing, missing_error, put_layer
from lamina.store.refs import Entry, render

if TYPE_CHECKING:
    from lamina.store.local import Store


class Transaction:
    """Staged changes to a store: blobs, names and deletions (see module doc)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.staging = Path(tempfile.mkdtemp(dir=store.tmp, prefix="tx-"))
        self.entries = store.entries()
        self._roots = {e.manifest.digest for e in self.entries}  # before: checked at commit
        self._staged: dict[str, Path] = {}
        self._doomed: set[str] = set()
        self._config_of: dict[str, str] = {}  # manifest digest -> config digest (image ID)
        self._indexes: dict[str, Path] = {}  # diff_id -> its staged header index file

    # -- blobs (a LayerSink) ------------------------------------------------------

    def has_blob(self, dig: str) -> bool:
        return dig in self._staged or (dig not in self._doomed and self.store.blobs.has(dig))

    def put_blob(
        self, stream: BinaryIO, expected: str | None = None, index: IndexBuilder | None = None
    ) -> tuple[str, int]:
        """Stage the stream's bytes; (digest, size). Verified against `expected` when
        given: a mismatch raises DigestMismatchError and stages nothing. A layer's
        `index`, filled as the stream was read (CheckedTar), is staged with it."""
        tmp, dig, size = stream_to_temp(stream, self.staging)
        if expected is not None:
            try:
                digest.check(expected, dig, f"blob {expected}")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        if index is not None:
            index.tar_size = size
        self.adopt(tmp, dig, index)
        return dig, size

    def put_bytes(self, data: bytes) -> str:
        """Stage a small blob (a config, a manifest); returns its digest."""
        dig = digest.of_bytes(data)
        self._doomed.discard(dig)
        if not self.has_blob(dig):
            tmp = self.staging / f"b-{len(self._staged)}"
            tmp.write_bytes(data)
            self._staged[dig] = tmp
        return dig

    def staging_file(self) -> Path:
        """A new empty file on the store's filesystem, for a writer to fill and adopt()."""
        fd, name = tempfile.mkstemp(dir=self.staging, prefix="new-")
        os.close(fd)
        return Path(name)

    def adopt(self, tmp: Path, dig: str, index: Building | None = None) -> None:
        """Take a file the caller wrote and verified (its sha256 is `dig`), on the store's
        filesystem; it is moved, not copied. A layer's `index`, made as it was written,
        is staged with it (put_image then need not read its headers back)."""
        self._doomed.discard(dig)
        if dig in self._staged or self.store.blobs.has(dig):
            tmp.unlink(missing_ok=True)
        else:
            self._staged[dig] = tmp
            if index is not None:
                self._stage_index(dig, index)

    def open_blob(self, dig: str) -> BinaryIO:
        """The blob's bytes: staged ones as written (verified then), stored ones verifying."""
        staged = self._staged.get(dig)
        if staged is not None:
            return open(staged, "rb")
        return self.store.blobs.open(dig)

    def blob_size(self, dig: str) -> int:
        staged = self._staged.get(dig)
        return staged.stat().st_size if staged is not None else self.store.blobs.size(dig)

    def delete_blob(self, dig: str) -> None:
        """Delete the blob at commit (after index.json no longer needs it)."""
        self._doomed.add(dig)
        staged = self._staged.pop(dig, None)
        if staged is not None:
            staged.unlink(missing_ok=True)

    def layer(self, diff_id: str) -> Layer:
        """A layer in the store's form (uncompressed, named by its diff_id) that this
        transaction holds; it still opens after commit. NotFoundError if absent."""
        if not self.has_blob(diff_id):
            short = digest.short(diff_id, algorithm=True)
            raise NotFoundError(f"layer {short} of the image is not in the store")
        size = self.blob_size(diff_id)
        return Layer(diff_id, diff_id, size, mediatype.OCI_LAYER, lambda: self.open_blob(diff_id))

    # -- images -------------------------------------------------------------------

    def put_image(self, image: Image, progress: Progress | None = None) -> Descriptor:
        """Write `image` in the store's form: its layers, then its config, then its manifest.

        Layers are stored uncompressed under their diff_id; one the store holds is not
        read at all, the others are decompressed and verified as they stream in
        (store/ingest.py). A layer the image's source left out must be present, else
        MissingLayersError. The config is stored as its exact bytes (the image ID is
        their digest); the manifest is Image.manifest_bytes() of the stored layers,
        unless an image with this ID is already a root of the store: it keeps its
        manifest (one manifest per image ID). Returns the manifest's descriptor; the
        image has no name until keep() gives it one.

        On failure (InvalidInputError, DigestMismatchError, MissingLayersError) nothing
        this call staged stays staged.
        """
        image.check_consistent()
        missing = find_missing([image], self.has_blob)
        if missing:
            raise missing_error(missing)
        known = self.manifest_of(image.id)
        if known is not None:
            return known
        before = set(self._staged)
        try:
            return self._put_image(image, progress or Progress.null())
        except BaseException:
            for dig in set(self._staged) - before:
                self._staged.pop(dig).unlink(missing_ok=True)
            raise

    def _put_image(self, image: Image, progress: Progress) -> Descriptor:
        todo = {x.diff_id: x for x in image.layers if not self.has_blob(x.diff_id)}
        name = image.names[0] if image.names else digest.short(image.id)
        task = progress.task(f"Loading {name}", sum(x.size for x in todo.values()))
        for layer in todo.values():
            with IndexBuilder(self.staging_file) as index:  # spills past its bound
                put_layer(layer, self, task, index)
                self._stage_index(layer.diff_id, index)
        task.done()
        for x in image.layers:  # layers an operation wrote (squash, commit, pull)
            if x.diff_id in self._staged and x.diff_id not in self._indexes:
                # a cache: a layer it cannot index gets in as it always did
                with (
                    contextlib.suppress(LaminaError, OSError),
                    open(self._staged[x.diff_id], "rb") as f,
                    IndexBuilder.of(f, self.staging_file) as index,
                ):
                    self._stage_index(x.diff_id, index)
        self.put_bytes(image.config.raw)
        layers = tuple(self.layer(x.diff_id) for x in image.layers)
        manifest = Image(image.config, layers, annotations=image.annotations).manifest_bytes()
        desc = Descriptor(mediatype.OCI_MANIFEST, self.put_bytes(manifest), len(manifest))
        self._config_of[desc.digest] = image.id
        return desc

    def _stage_index(self, diff_id: str, index: Building) -> None:
        """Keep a layer's header index with the layer: it goes in at commit (a cache:
        one that cannot be written is only rebuilt when next needed)."""
        path = self.staging / f"index-{digest.hex_of(diff_id)}"
        with contextlib.suppress(OSError), open(path, "wb") as f:
            index.write(f, diff_id)
            self._indexes[diff_id] = path

    def manifest_of(self, image_id: str) -> Descriptor | None:
        """The manifest of a root image with this ID, if the store (or this transaction)
        has one. Reads manifests only when the config blob is there at all."""
        if not self.has_blob(image_id):
            return None
        roots = (e.manifest for e in self.entries)
        return next((m for m in roots if self.image_id_of(m.digest) == image_id), None)

    def image_id_of(self, dig: str) -> str:
        """The image ID (config digest) of the manifest `dig` (a root of the store)."""
        if dig not in self._config_of:
            with self.open_blob(dig) as f:
                self._config_of[dig] = Manifest.parse(f.read()).config.digest
        return self._config_of[dig]

    # -- names --------------------------------------------------------------------

    def keep(self, manifest: Descriptor, name: str | None = None) -> str | None:
        """Name an image put in this transaction `name`, or keep it as a `<none>` image.

        Returns the manifest digest `name` pointed at before, when it moves (that image
        stays as `<none>`); None otherwise.
        """
        if name:
            return self.set_name(name, manifest)
        self.add_root(manifest)
        return None

    def manifests_named(self, name: str) -> list[Entry]:
        return [e for e in self.entries if e.name == name]

    def set_name(self, name: str, manifest: Descriptor) -> str | None:
        """Point `name` at `manifest`; returns the manifest digest it pointed at before."""
        previous = next((e.manifest.digest for e in self.entries if e.name == name), None)
        self.entries = [e for e in self.entries if e.name != name]
        self.entries = [
            e for e in self.entries if not (e.name == "" and e.manifest.digest == manifest.digest)
        ]
        self.entries.append(Entry(manifest, name))
        if previous and previous != manifest.digest:
            self._keep_root(previous)
        return previous if previous != manifest.digest else None

    def remove_name(self, name: str, keep_untagged: bool) -> str | None:
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is None:
            return None
        self.entries.remove(entry)
        if keep_untagged:
            self._keep_root(entry.manifest.digest, entry.manifest)
        return entry.manifest.digest

    def add_root(self, manifest: Descriptor) -> None:
        """Keep an image in the store even without a name (a `<none>` image)."""
        self._keep_root(manifest.digest, manifest)

    def drop_image(self, manifest_digest: str) -> None:
        self.entries = [e for e in self.entries if e.manifest.digest != manifest_digest]

    def _keep_root(self, manifest_digest: str, desc: Descriptor | None = None) -> None:
        if any(e.manifest.digest == manifest_digest for e in self.entries):
            return
        if desc is None:
            size = self.blob_size(manifest_digest)
            desc = Descriptor(mediatype.OCI_MANIFEST, manifest_digest, size)
        self.entries.append(Entry(desc, ""))

    # -- outcome ------------------------------------------------------------------

    def commit(self) -> None:
        """Refused (NotFoundError) if a new root would name a missing blob; else, through
        the journal (store/journal.py): staged blobs in, index.json replaced atomically,
        doomed blobs moved to the trash."""
        store, new = self.store, {e.manifest.digest for e in self.entries} - self._roots
        journal.check_complete(new, self.has_blob, self.open_blob)  # no dangling reference
        index = render(self.entries)
        journal.apply(store.state, store.blobs, self._staged, self._doomed, index, store.tmp)
        self._staged = {}  # from now on every read resolves to the store's blobs
        for diff_id, path in self._indexes.items():
            if store.blobs.has(diff_id):
                store.indexes.adopt(diff_id, path)
        shutil.rmtree(self.staging, ignore_errors=True)

    def abort(self) -> None:
        self._staged = {}
        shutil.rmtree(self.staging, ignore_errors=True)
