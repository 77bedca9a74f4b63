"""A Docker Engine as a source and a destination (docs/design.md §12: a transport).

Images in a daemon are named `docker-daemon:NAME` (skopeo's prefix) wherever a verb
takes a store image: load, save, send, squash, flatten, rebase. The daemon is the one
`--docker-host`, DOCKER_HOST or the docker CLI's context names
(transports/docker_engine/endpoint.py): local socket, TCP+TLS or ssh.

Reading: the Engine API can only export whole images (`GET /images/get`). The export
streams straight into a store transaction (transports/docker_engine/export.py): each
layer is written once, hashed on the way, checked against its config's diff_id, and
a layer the store holds already is dropped; same IDs, history and tags; all or
nothing.

Writing (`send_to_docker`): the daemon's inventory (every image's chain IDs) is read
first; images it already holds are only tagged; the rest go into `POST /images/load`
as one streamed delta archive carrying only the layers whose chain ID it lacks.
Which archive depends on the daemon's image store, from `GET /info`:
- classic (graph drivers: overlay2, vfs, ...; every Docker before 29 by default):
  the delta archive of transports/archive_writer.py (manifest.json, no OCI layout).
  moby's loader looks each layer's chain ID up before it opens the file, so the
  delta loads and yields the same image ID. Tested on Docker 20.10.
- containerd image store (`DriverStatus` names `io.containerd.snapshotter.v1`;
  the default for new installs of Docker 29+): Docker imports through containerd's
  archive importer (containerd images/archive/importer.go). Given manifest.json
  only, it resolves every layer to a file of the tar and refuses a delta ("failed
  to resolve layers: layer blobs/sha256/... not found"). Given an OCI layout it
  takes index.json as is: blobs not in the tar may be missing, and unpacking skips
  every layer whose chain ID is already a snapshot. So lamina sends the same delta
  WITH its OCI layout there (archive_writer's layout=True, leaving the layers out):
  checked with `ctr images import` of containerd 1.6 (the base imported, its layer
  blob even deleted from the content store: the delta imports, unpacks, and runs).
  The caveat: the new image's manifest names the base layers by their uncompressed
  digest, which a base pulled from a registry (gzip blobs) does not have as
  content, so `docker save`/`push` of the new image on that daemon need the base
  re-pulled; running it does not. `--full` sends every layer instead.
Images the daemon already holds are only tagged, on either store, so a second send
moves no layer bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lamina.api.images import Loaded, load_images
from lamina.api.save import images_for
from lamina.errors import UsageError
from lamina.image import Image
from lamina.ops import delta
from lamina.progress import Progress
from lamina.spec import BASE_NAME
from lamina.store.inventory import Inventory
from lamina.store.local import Store, Transaction
from lamina.transports.archive_writer import write_archive
from lamina.transports.docker_engine import PREFIX as PREFIX
from lamina.transports.docker_engine import export
from lamina.transports.docker_engine import is_daemon_ref as is_daemon_ref
from lamina.transports.docker_engine.body import body_of
from lamina.transports.docker_engine.client import Engine
from lamina.transports.docker_engine.images import DaemonImage, find, list_images
from lamina.transports.sources import read_images

CLASSIC, CONTAINERD = "classic", "containerd"


def daemon_name(text: str) -> str:
    """NAME of `docker-daemon:NAME` (or `text` itself without the prefix)."""
    name = text[len(PREFIX) :] if is_daemon_ref(text) else text
    if not name:
        raise UsageError(f"{text!r} names no image", "use docker-daemon:NAME[:TAG] or an ID")
    return name


def split_refs(refs: Sequence[str]) -> tuple[list[str], list[str]]:
    """(store refs, daemon names): a verb works on one side at a time."""
    store = [r for r in refs if not is_daemon_ref(r)]
    daemon = [daemon_name(r) for r in refs if is_daemon_ref(r)]
    if store and daemon:
        raise UsageError(
            "give images of the store or of Docker (docker-daemon:NAME), not both at once"
        )
    return store, daemon


def inventory_of(images: Sequence[DaemonImage]) -> Inventory:
    return Inventory.of_stacks((i.id, i.tags, i.diff_ids) for i in images)


def inventory(host: str | None = None) -> Inventory:
    """What a Docker Engine holds, as the inventory `save --have` takes."""
    with Engine.connect(host) as engine:
        return inventory_of(list_images(engine))


def store_kind(info: dict[str, object]) -> str:
    """CLASSIC or CONTAINERD: which image store the daemon uses (see module doc)."""
    status = info.get("DriverStatus")
    pairs = status if isinstance(status, list) else []
    if any("io.containerd.snapshotter" in str(p) for p in pairs):
        return CONTAINERD
    return CLASSIC


# -- Docker to the store ---------------------------------------------------------


def receive(engine: Engine, names: Sequence[str], tx: Transaction, into: Path) -> list[Image]:
    """Stream `docker save NAMES` into `tx` (see export.py); unknown names fail first."""
    for name in names:
        find(engine, name)
    with engine.export(names) as stream:
        fs = export.receive(stream, tx, into, f"the export of {engine.label}")
    return read_images(fs)


def load_from_docker(
    store: Store, names: Sequence[str], *, host: str | None = None, progress: Progress | None = None
) -> list[Loaded]:
    """Load images of a Docker Engine into the store: same IDs, history and tags."""
    names = [daemon_name(n) for n in names]
    if not names:
        raise UsageError("name at least one image of the Docker Engine")
    with Engine.connect(host) as engine:
        scratch = store.scratch_dir()
        try:
            with store.transaction() as tx:
                images = receive(engine, names, tx, scratch)
                return load_images(store, tx, images, progress)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def ancestors(engine: Engine, names: Sequence[str]) -> list[str]:
    """Tags of the daemon's images that `names` are built on: base candidates.

    Those whose layers are a proper prefix of a named image's layers, and the base
    an image's labels name (org.opencontainers.image.base.name) when it is there.
    """
    held = list_images(engine)
    tagged = {t for i in held for t in i.tags}
    out: list[str] = []
    for target in (find(engine, n) for n in names):
        for img in held:
            n = len(img.diff_ids)
            below = n < len(target.diff_ids) and target.diff_ids[:n] == img.diff_ids
            if img.tags and img.id != target.id and below:
                out.append(img.tags[0])
        declared = target.labels.get(BASE_NAME)
        if declared and declared in tagged:
            out.append(declared)
    return [n for n in dict.fromkeys(out) if n not in names]


@contextmanager
def staged(engine: Engine, names: Sequence[str]) -> Iterator[Store]:
    """A throwaway store holding `names` exported from the daemon, and their ancestors.

    The ancestors (see `ancestors`) cost only their configs in the export (their
    layers are the named images' own) and let the store's base rules work as usual.
    """
    work = Path(tempfile.mkdtemp(prefix="lamina-docker-"))
    try:
        store = Store.open(work / "store")
        scratch = store.scratch_dir()
        with store.transaction() as tx:
            wanted = [*dict.fromkeys(names), *ancestors(engine, names)]
            load_images(store, tx, receive(engine, wanted, tx, scratch))
        shutil.rmtree(scratch, ignore_errors=True)
        yield store
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the store to Docker ---------------------------------------------------------


@dataclass(frozen=True)
class DockerSent:
    images: tuple[Image, ...]
    plan: delta.Plan  # of the images that were loaded (not those only tagged)
    tagged: tuple[str, ...]  # images the daemon already held: only named
    full: bool  # every layer was sent, whatever the daemon has (full=True)
    store_kind: str
    archive_bytes: int
    wire_sent: int  # every byte to the daemon (HTTP and ssh framing included)
    wire_received: int
    lines: tuple[str, ...]  # what the daemon said ("Loaded image: ...")
    target: str


def send_to_docker(
    store: Store,
    refs: Sequence[str],
    *,
    host: str | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> DockerSent:
    """Deliver store images into a Docker Engine, carrying only what it lacks."""
    if not refs:
        raise UsageError("send needs at least one image")
    images = images_for(store, refs)
    with Engine.connect(host) as engine:
        return deliver(engine, images, full=full, progress=progress)


def archive_writer(
    kind: str, images: list[Image], omit: set[str], progress: Progress | None = None
) -> Callable[[BinaryIO], int]:
    """What to stream into a daemon with image store `kind` (see module doc)."""
    if kind == CONTAINERD or not omit:  # an OCI layout too: containerd needs it
        return lambda out: write_archive(images, out, omit=omit, progress=progress, layout=True)
    return lambda out: write_archive(images, out, omit=omit, progress=progress, label="Sending")


def deliver(
    engine: Engine, images: list[Image], *, full: bool = False, progress: Progress | None = None
) -> DockerSent:
    """Load `images` into `engine` (see module doc): tag what it has, send the rest."""
    kind = store_kind(engine.info())
    held = list_images(engine)
    present = {i.id for i in held}
    to_load = [i for i in images if i.id not in present]
    plan = delta.plan(to_load, set() if full else inventory_of(held).chain_ids)
    size = [0]
    lines: list[str] = []
    if to_load:
        write = archive_writer(kind, to_load, plan.omit, progress)

        def run(out: BinaryIO) -> None:
            size[0] = write(out)

        lines = engine.load(body_of(run))
    tagged = []
    for image in images:
        if image.id in present:
            for name in image.names:
                engine.tag(image.id, name)
            tagged.append(image.id)
    return DockerSent(
        tuple(images),
        plan,
        tuple(tagged),
        full,
        kind,
        size[0],
        engine.wire.sent,
        engine.wire.received,
        tuple(lines),
        engine.label,
    )
