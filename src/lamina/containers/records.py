"""Working containers: records under `STORE/lamina/containers/<id>/`, like Docker's.

    containers/<id>/container.json   the record (id, name, image, command, config, state)
    containers/<id>/rootfs/          the container's filesystem (image layers applied)
    containers/<id>/snapshot         the state of rootfs right after it was materialised

A container is built in a staging directory (`containers/.new-*`) and becomes
visible with one rename, under the store's lock, once its name is checked to be
free and its image is still in the store. Removal renames it away first
(`.gone-*`) and deletes the files after, so a crash never leaves half a container.
The OCI layout ignores this folder; image removal asks it which images are in use.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lamina import digest
from lamina.atomic import write_atomic
from lamina.errors import ConflictError, InvalidInputError, NotFoundError
from lamina.layer import safedir
from lamina.store.local import Store
from lamina.store.rules import ContainerUse

RECORD = "container.json"
ROOTFS = "rootfs"
SNAPSHOT = "snapshot"
CREATED, RUNNING, EXITED = "created", "running", "exited"


def rfc3339_now() -> str:
    """Now in UTC with nanoseconds, the way Docker writes `created`."""
    ns = time.time_ns()
    stamp = datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns % 1_000_000_000:09d}Z"


def new_id() -> str:
    """64 hex digits whose 12-digit short form is never all digits (Docker's rule,
    so a short ID can never be mistaken for a number)."""
    while True:
        ident = secrets.token_hex(32)
        if not digest.short(ident).isdigit():
            return ident


@dataclass(frozen=True)
class Container:
    """A working container: its image, Docker's config for it, and its state."""

    id: str
    name: str
    image_id: str
    image_name: str  # the reference the user gave, as Docker keeps it in Config.Image
    diff_ids: tuple[str, ...]  # the image's layers: held even if the image is removed
    created: str
    config: dict[str, Any] = field(default_factory=dict)  # Docker's container config
    state: str = CREATED
    exit_code: int = 0
    pid: int = 0
    pid_start: str = ""  # the process's start time, so a reused PID is not mistaken for it
    started: str = ""
    finished: str = ""
    dir: Path = field(default=Path(), compare=False)

    @property
    def rootfs(self) -> Path:
        return self.dir / ROOTFS

    @property
    def snapshot(self) -> Path:
        return self.dir / SNAPSHOT

    @property
    def short_id(self) -> str:
        return digest.short(self.id)

    @property
    def command(self) -> list[str]:
        """What runs: Entrypoint then Cmd."""
        return [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]

    @property
    def running(self) -> bool:
        return self.state == RUNNING and _alive(self.pid, self.pid_start)

    @property
    def status(self) -> str:
        """created, running or exited; a run whose lamina died counts as exited."""
        if self.state == RUNNING and not self.running:
            return EXITED
        return self.state

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc.pop("dir")
        doc["diff_ids"] = list(self.diff_ids)
        return json.dumps(doc, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: Path) -> Container:
        try:
            doc = json.loads(raw)
            doc["diff_ids"] = tuple(doc["diff_ids"])
            return cls(**doc, dir=where)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise InvalidInputError(
                f"container record {where / RECORD} is corrupt ({exc})"
            ) from None


def process_start(pid: int) -> str:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or "" if PID is gone
    (a zombie counts as gone: it has exited, only its parent has not noticed yet)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = text.rsplit(")", 1)[-1].split()
    return "" if fields[0] in ("Z", "X") else fields[19]


def _alive(pid: int, start: str) -> bool:
    return pid > 0 and bool(start) and process_start(pid) == start


class Containers:
    """The containers of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dir = store.state / "containers"

    # -- reading -------------------------------------------------------------------------
    def all(self) -> list[Container]:
        """Every container, oldest first."""
        if not self.dir.is_dir():
            return []
        found = []
        for entry in os.scandir(self.dir):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            try:
                raw = (path / RECORD).read_bytes()
            except FileNotFoundError:
                continue
            found.append(Container.from_json(raw, path))
        return sorted(found, key=lambda c: (c.created, c.id))

    def find(self, text: str) -> Container:
        """By full ID, then by name, then by unique ID prefix (Docker's order)."""
        everything = self.all()
        name = text[1:] if text.startswith("/") else text
        for match in (
            [c for c in everything if c.id == text],
            [c for c in everything if c.name == name],
            [c for c in everything if text and c.id.startswith(text)],
        ):
            if len(match) == 1:
                return match[0]
            if len(match) > 1:
                raise ConflictError(f"container ID prefix {text!r} is ambiguous", "give more of it")
        raise NotFoundError(f"No such container: {text}", command="see `lamina ps -a`")

    def uses(self) -> list[ContainerUse]:
        """Which images (and layers) the containers hold, for `rmi` and `image prune`."""
        return [ContainerUse(c.id, c.image_id, c.running, c.diff_ids) for c in self.all()]

    # -- writing -------------------------------------------------------------------------
    def staging(self) -> Path:
        """A fresh directory to build a container in (same filesystem as its final place)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f".new-{secrets.token_hex(8)}"
        path.mkdir()
        return path

    def register(self, staging: Path, record: Container) -> Container:
        """Make a staged container visible: the name must be free and its image present."""
        # the store's lock, not a transaction: no blob or name changes, and one rename
        # is already all-or-nothing; holding it keeps `rmi` from racing this check
        with self.store.lock():
            taken = next((c for c in self.all() if c.name == record.name), None)
            if taken is not None:
                raise ConflictError(
                    f'the container name "/{record.name}" is already in use by container '
                    f'"{taken.id}"',
                    "remove (or rename) that container to be able to reuse that name",
                )
            if record.image_id not in {i.id for i in self.store.images()}:
                raise NotFoundError(f"image {digest.short(record.image_id)} was removed meanwhile")
            final = self.dir / record.id
            write_atomic(staging / RECORD, record.to_json(), self.store.tmp)
            os.rename(staging, final)
        return replace(record, dir=final)

    def save(self, record: Container) -> None:
        """Rewrite a container's record (its state changed), if it still exists."""
        with self.store.lock():
            if (record.dir / RECORD).exists():
                write_atomic(record.dir / RECORD, record.to_json(), self.store.tmp)

    def remove(self, record: Container) -> int:
        """Delete a container; returns the bytes its files took."""
        gone = self.dir / f".gone-{record.id}"
        with self.store.lock():
            if not record.dir.is_dir():
                raise NotFoundError(f"No such container: {record.name}")
            os.rename(record.dir, gone)
        return remove_tree(gone)

    def sweep(self) -> None:
        """Delete leftovers of interrupted creates and removals (never a live container)."""
        if not self.dir.is_dir():
            return
        for entry in os.scandir(self.dir):
            if entry.name.startswith((".gone-", ".new-")):
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
                if entry.name.startswith(".gone-") or age > 24 * 3600:
                    remove_tree(Path(entry.path))


def remove_tree(path: Path) -> int:
    """Delete a directory tree, even parts a container made read-only, however deep;
    returns bytes freed."""
    return safedir.remove_tree(str(path))
