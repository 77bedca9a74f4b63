"""The embedded store: an OCI image layout on disk, plus lamina's own state.

Layout (a valid OCI layout, readable by skopeo and umoci as it is):

    STORE/oci-layout, STORE/index.json, STORE/blobs/sha256/...
    STORE/lamina/            lamina's own state, ignored by OCI readers
        lock                 one writer at a time (flock)
        facts.json           what listing needs of each image (store/facts.py)
        tmp/own-*/           temp space, one dir per live process (store/tmp.py)
        journal              what an unfinished commit adds and deletes (store/journal.py)
        readers, trash/      deleted blobs wait until no reader needs them (store/trash.py)
        containers/          working containers

Writers go through a Transaction: blobs are staged and verified, and nothing is
visible until commit moves them in and replaces index.json atomically. A
failed transaction leaves the store exactly as it was. Each transaction first heals
the store under the lock: what dead processes left in tmp/ is reclaimed, a dead
writer's journal settled, the trash emptied unless a reader holds the store.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lamina import digest, mediatype
from lamina.atomic import write_atomic
from lamina.errors import InvalidInputError
from lamina.image import Image
from lamina.spec import Descriptor
from lamina.store import journal, tmp, trash
from lamina.store.cas import BlobStore, stream_to_temp
from lamina.store.facts import FactsCache
from lamina.store.reader import StoredImage as StoredImage
from lamina.store.reader import StoreReader
from lamina.store.refs import Entry, render

STATE_DIR = "lamina"
OCI_LAYOUT = json.dumps({"imageLayoutVersion": mediatype.OCI_LAYOUT_VERSION}).encode()


def default_path() -> Path:
    env = os.environ.get("LAMINA_STORE")
    if env:
        return Path(env)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "lamina"


class Store(StoreReader):
    """The store: read as StoreReader says; written only through transactions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = BlobStore(root)
        self.state = root / STATE_DIR
        self.tmp_root = self.state / "tmp"
        self.index_path = root / "index.json"
        self.readers = trash.ReaderLock(self.state)
        self._tmp = tmp.TempSpace(self.tmp_root)
        self.facts = FactsCache(self.state / "facts.json", lambda: self.tmp)
        self._cache: dict[tuple[str, tuple[str, ...]], StoredImage] = {}
        self._values: dict[str, Image] = {}  # manifest digest -> loaded image
        self.loads = 0  # images read from blobs (tests count them)

    @property
    def tmp(self) -> Path:
        """This process's own temp dir in the store (reclaimed if the process dies)."""
        return self._tmp.path()

    @classmethod
    def open(cls, path: Path | str | None = None) -> Store:
        """Open (creating on first use) the store at `path`, $LAMINA_STORE or the XDG default."""
        root = Path(path) if path is not None else default_path()
        store = cls(root)
        store._init_layout()
        return store

    def _init_layout(self) -> None:
        try:
            self.tmp_root.mkdir(parents=True, exist_ok=True)
            self.blobs.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"cannot create store at {self.root}: {exc.strerror}") from None
        layout = self.root / "oci-layout"
        if not layout.exists():
            write_atomic(layout, OCI_LAYOUT, self.tmp)
        if not self.index_path.exists():
            write_atomic(self.index_path, render([]), self.tmp)

    # -- writing ---------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        with open(self.state / "lock", "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.lock():
            self.heal()
            tx = Transaction(self)
            try:
                yield tx
                tx.commit()
            except BaseException:
                tx.abort()  # a refused commit too: nothing staged stays behind
                raise
            self.readers.release()  # what this process read before is stale now
            trash.empty(self.state)
        self._cache.clear()
        self._values.clear()

    def heal(self) -> None:
        """Reclaim what dead writers left (under the lock; cheap when nothing is left)."""
        tmp.reclaim(self.tmp_root)
        journal.settle(self.state, self.blobs, self.index_path)
        trash.empty(self.state)

    def scratch_dir(self) -> Path:
        """A private temp dir inside the store (same filesystem, so renames are cheap)."""
        return Path(tempfile.mkdtemp(dir=self.tmp, prefix="work-"))


class Transaction:
    """Staged changes to a store: blobs, names and deletions, applied all at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.staging = Path(tempfile.mkdtemp(dir=store.tmp, prefix="tx-"))
        self.entries = store.entries()
        self._roots = {e.manifest.digest for e in self.entries}  # before: checked at commit
        self._staged: dict[str, Path] = {}
        self._doomed: set[str] = set()

    # BlobSink
    def has_blob(self, dig: str) -> bool:
        return dig in self._staged or (dig not in self._doomed and self.store.blobs.has(dig))

    def put_blob(self, stream: BinaryIO, expected: str | None = None) -> tuple[str, int]:
        tmp, dig, size = stream_to_temp(stream, self.staging)
        if expected is not None:
            try:
                digest.check(expected, dig, f"blob {expected}")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        self.adopt(tmp, dig)
        return dig, size

    def put_bytes(self, data: bytes) -> str:
        dig = digest.of_bytes(data)
        if not self.has_blob(dig):
            tmp = self.staging / f"b-{len(self._staged)}"
            tmp.write_bytes(data)
            self._staged[dig] = tmp
        return dig

    def staging_file(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self.staging, prefix="new-")
        os.close(fd)
        return Path(name)

    def adopt(self, tmp: Path, dig: str) -> None:
        """Take ownership of a verified temp file (which must be on the store's filesystem)."""
        self._doomed.discard(dig)
        if dig in self._staged or self.store.blobs.has(dig):
            tmp.unlink(missing_ok=True)
        else:
            self._staged[dig] = tmp

    def open_blob(self, dig: str) -> BinaryIO:
        staged = self._staged.get(dig)
        if staged is not None:
            return open(staged, "rb")
        return self.store.blobs.open(dig)

    def blob_size(self, dig: str) -> int:
        staged = self._staged.get(dig)
        return staged.stat().st_size if staged is not None else self.store.blobs.size(dig)

    def delete_blob(self, dig: str) -> None:
        self._doomed.add(dig)
        staged = self._staged.pop(dig, None)
        if staged is not None:
            staged.unlink(missing_ok=True)

    # names
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
            desc = Descriptor(
                mediatype.OCI_MANIFEST, manifest_digest, self.store.blobs.size(manifest_digest)
            )
        self.entries.append(Entry(desc, ""))

    # outcome
    def commit(self) -> None:
        store, new = self.store, {e.manifest.digest for e in self.entries} - self._roots
        journal.check_complete(new, self.has_blob, self.open_blob)  # no dangling reference
        index = render(self.entries)
        journal.apply(store.state, store.blobs, self._staged, self._doomed, index, store.tmp)
        shutil.rmtree(self.staging, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
