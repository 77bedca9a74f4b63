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

Writers go through a Transaction (store/transaction.py, which states its contract):
blobs are staged and verified, images are put in one place (layers, config,
manifest), and nothing is visible until commit moves them in and replaces
index.json atomically. A failed transaction leaves the store exactly as it was.
Each transaction first heals the store under the lock: what dead processes left in
tmp/ is reclaimed, a dead writer's journal settled, the trash emptied unless a
reader holds the store.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lamina import mediatype
from lamina.atomic import write_atomic
from lamina.errors import InvalidInputError
from lamina.image import Image
from lamina.store import journal, tmp, trash
from lamina.store.cas import BlobStore
from lamina.store.facts import FactsCache
from lamina.store.reader import StoredImage as StoredImage
from lamina.store.reader import StoreReader
from lamina.store.refs import render
from lamina.store.transaction import Transaction as Transaction  # where writers find it

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
