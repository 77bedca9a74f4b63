"""Verbs on working containers: create, run, cp, ps, rm, container prune.

A container is an image's filesystem materialised under the store (layers applied,
whiteouts honoured, nothing outside its root touched) plus a snapshot of it, so
`commit` can later tell what changed. `run` needs root; everything else does not.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from lamina.api import filters as filters_
from lamina.api.lookup import Names, as_names, get_image
from lamina.containers import cp as cpfiles
from lamina.containers import cptar, inroot, names, rootfs, sandbox
from lamina.containers.records import (
    Container,
    Containers,
    new_id,
    process_start,
    remove_tree,
    rfc3339_now,
)
from lamina.errors import ConflictError, NotFoundError, UsageError
from lamina.ops.commit import container_config
from lamina.progress import Progress
from lamina.store.graph import Graph
from lamina.store.local import Store


@dataclass(frozen=True)
class Created:
    """The container `create` made, and what it could not reproduce (e.g. owners, not root)."""

    container: Container
    skipped: tuple[str, ...]  # what could not be reproduced here (e.g. owners, not root)


def containers(store: Store) -> Containers:
    return Containers(store)


def get_container(store: Store, text: str) -> Container:
    """A container by full ID, name or unique ID prefix."""
    return Containers(store).find(text)


def create(
    store: Store,
    ref: str,
    command: str | Sequence[str] = (),
    *,
    name: str | None = None,
    progress: Progress | None = None,
) -> Created:
    """Make a container from the image `ref`: its filesystem under the store, and a snapshot.

    `command` replaces the image's CMD: a list of arguments, or a string split as a shell
    would split it (as docker-py does); empty keeps the image's.
    """
    command = shlex.split(command) if isinstance(command, str) else list(command)
    box = Containers(store)
    box.sweep()
    stored = get_image(store, ref)
    wanted = names.check_name(name) if name else None
    taken = {c.name for c in box.all()}
    if wanted in taken:
        raise ConflictError(f'the container name "/{wanted}" is already in use')
    ident = new_id()
    conf = container_config(
        stored.image.config, container_id=ident, image_name=ref, command=command, attach=True
    )
    if not conf.get("Cmd") and not conf.get("Entrypoint"):
        raise UsageError("no command specified", "give one after the image, or set CMD")
    record = Container(
        id=ident,
        name=wanted or names.random_name(taken),
        image_id=stored.id,
        image_name=ref,
        diff_ids=stored.image.diff_ids,
        created=rfc3339_now(),
        config=conf,
    )
    staging = box.staging()
    try:
        skipped = rootfs.materialise(store, stored.image, staging, progress)
        return Created(box.register(staging, record), skipped)
    except BaseException:
        remove_tree(staging)
        raise


def run(
    store: Store,
    ref: str,
    command: str | Sequence[str] = (),
    *,
    name: str | None = None,
    remove: bool = False,
    progress: Progress | None = None,
) -> tuple[Container, int]:
    """`create` then run the command chrooted in new namespaces (root only); returns the
    container and the command's exit code. With `remove`, the container is deleted after.
    `progress` shows the create; it is closed before the command starts (which then
    owns the terminal)."""
    sandbox.require_root("run")
    made = create(store, ref, command, name=name, progress=progress)
    if progress is not None:
        progress.close()
    box = Containers(store)
    container, code = sandbox.start(box, made.container)
    if remove:
        box.remove(container)
        _release(store, container)
    return container, code


def ps(store: Store, *, all: bool = False, filters: Names = ()) -> list[Container]:
    """Containers, newest first; only running ones unless `all`. `filters`: Docker's
    --filter strings, e.g. ["status=exited", "ancestor=local/app"] (api/filters.py)."""
    box = Containers(store)
    given = filters_.parse(filters, filters_.CONTAINER_KEYS)
    keep = filters_.container_match(given, box.find, lambda i, ref: _descends(store, i, ref))
    return [c for c in reversed(box.all()) if (all or c.running) and keep(c)]


def _descends(store: Store, image_id: str, ref: str) -> bool:
    """Is image `image_id` the image `ref` names, or built on it (Docker's ancestor=)?"""
    wanted = get_image(store, ref).id
    if wanted == image_id:
        return True
    images = store.images()
    found = [i for i in images if i.id == image_id]
    return bool(found) and wanted in Graph.around(images, found[0]).ancestors(image_id)


def rm(store: Store, refs: Names, *, force: bool = False) -> list[str]:
    """Remove containers; a running one only with `force` (it is killed first)."""
    box = Containers(store)
    done = []
    for ref in as_names(refs):
        c = box.find(ref)
        if c.running:
            if not force:
                raise ConflictError(
                    f"you cannot remove a running container {c.id}",
                    "stop it before attempting removal or force remove (-f)",
                )
            _kill(c.pid)
        box.remove(c)
        done.append(ref)
        _release(store, c)
    return done


def _kill(pid: int) -> None:
    """SIGKILL the container's `unshare` (--kill-child takes the container with it) and
    wait for it to go, so its files are not deleted under a live process."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not process_start(pid):
            return
        time.sleep(0.05)


def container_prune(store: Store, *, filters: Names = ()) -> tuple[list[str], int]:
    """Remove every container that is not running (and passes `filters`: until=, label=,
    label!=, as Docker's); returns their IDs and the bytes freed."""
    given = filters_.parse(filters, filters_.PRUNE_KEYS)
    keep = filters_.prune_match(given, lambda c: c.config.get("Labels"), lambda c: c.created)
    box = Containers(store)
    box.sweep()
    ids, freed = [], 0
    for c in box.all():
        if not c.running and keep(c):
            freed += box.remove(c)
            _release(store, c)
            ids.append(c.id)
    return ids, freed


def _release(store: Store, gone: Container) -> None:
    """Delete the layers and config a removed container held for an image that `rmi -f`
    deleted meanwhile, unless something else still needs them (Docker frees them too)."""
    if any(img.id == gone.image_id for img in store.images()):
        return  # the image is still there: it owns its blobs
    with store.transaction() as tx:
        images = store.images()
        held = {d for i in images for d in i.image.diff_ids} | {i.id for i in images}
        for c in Containers(store).all():
            held |= {*c.diff_ids, c.image_id}
        for blob in {*gone.diff_ids, gone.image_id} - held:
            if tx.has_blob(blob):
                tx.delete_blob(blob)


def cp(
    store: Store,
    src: str,
    dst: str,
    *,
    follow: bool = False,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> None:
    """`docker cp`: exactly one of SRC and DST is `CONTAINER:PATH`; the other may be
    `-`: a tar read from `stdin` (extracted into PATH, a directory) or written to
    `stdout` (default: the process's own)."""
    src_side, dst_side = _split(src), _split(dst)
    if (src_side is None) == (dst_side is None):
        raise UsageError(
            "copying between containers or between host paths is not supported",
            "write CONTAINER:PATH on exactly one side",
        )
    side = dst_side or src_side
    assert side is not None
    c = get_container(store, side[0])
    try:
        if dst_side is not None and src == "-":
            cptar.tar_in(c.rootfs, dst_side[1], stdin or sys.stdin.buffer, dst)
        elif dst_side is not None:
            cpfiles.copy_in(c.rootfs, src, dst_side[1], follow=follow)
        elif dst == "-":
            cptar.tar_out(c.rootfs, side[1], stdout or sys.stdout.buffer, follow=follow)
        else:
            cpfiles.copy_out(c.rootfs, side[1], dst, follow=follow)
    except inroot.MissingPath as exc:  # Docker's words: the missing part going in, all out
        missing = exc.path if dst_side is not None else side[1]
        raise NotFoundError(f"No such container:path: {side[0]}:{missing}") from None


def _split(arg: str) -> tuple[str, str] | None:
    """`NAME:PATH` -> (NAME, PATH); a local path (`./a:b`, `/x:y`) -> None, as docker cp."""
    if arg.startswith(("/", ".")):
        return None
    head, sep, tail = arg.partition(":")
    if not sep or not head or "/" in head:
        return None
    return head, tail or "/"
