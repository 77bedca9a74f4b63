"""`inspect`: Docker's documents for images and containers, found as `docker inspect` does.

Without a kind, each name is looked up as a container first, then as an image
(Docker's order); `kind="image"` or `"container"` looks in one place only. A name
that is neither fails with the image's NotFoundError (Docker: "No such object"). A
container's document has Docker's shape where lamina has the data: Id, Created,
Path, Args, State, Image, Name, RestartCount, Driver, Platform, GraphDriver,
Mounts, Config. Docker's HostConfig, NetworkSettings and log/hosts paths are left
out: lamina containers have no network, host settings or logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamina.api.images import inspect as inspect_images
from lamina.containers.records import RUNNING, Container, Containers
from lamina.errors import NotFoundError, UsageError
from lamina.store.local import Store

KINDS = ("image", "container")
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time, Docker's "never"


def inspect(store: Store, refs: Sequence[str], kind: str | None = None) -> list[dict[str, Any]]:
    """One document per name, in order; a name that is neither fails (NotFoundError)."""
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}", 'use "image" or "container"')
    box = Containers(store)
    docs = []
    for ref in refs:
        if kind == "image":
            docs += inspect_images(store, [ref])
            continue
        try:
            docs.append(container_doc(box.find(ref)))
            continue
        except NotFoundError:
            if kind == "container":
                raise
        docs += inspect_images(store, [ref])  # not found: the image's error, as before
    return docs


def container_doc(c: Container) -> dict[str, Any]:
    command = c.command
    status = c.status
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": command[0] if command else "",
        "Args": command[1:],
        "State": {
            "Status": status,
            "Running": status == RUNNING,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": c.pid if status == RUNNING else 0,
            "ExitCode": c.exit_code,
            "Error": "",
            "StartedAt": c.started or ZERO_TIME,
            "FinishedAt": c.finished or ZERO_TIME,
        },
        "Image": c.image_id,
        "Name": "/" + c.name,
        "RestartCount": 0,
        "Driver": "lamina",
        "Platform": "linux",
        "GraphDriver": {"Data": {"RootDir": str(c.rootfs)}, "Name": "lamina"},
        "Mounts": [],
        "Config": c.config,
    }
