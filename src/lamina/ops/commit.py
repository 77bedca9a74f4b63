"""Image configs for `commit` and `import`, and container configs for `create`: as Docker
20.10 writes them, so `docker inspect` and `docker history` show the same things.

Pure functions on JSON documents: they return the exact config bytes (whose digest is
the new image ID); writing blobs is the caller's job.

- create: the container's config is the image's `config` with the command the user
  gave (Docker's `Config.Image` keeps the reference as typed).
- commit: parent config + the new layer's diff_id + one history entry whose
  `created_by` is the container's command (`comment` = -m, `author` = --author); the
  new image's `config` is the container's (so its CMD is the command that ran) with
  `--change`s applied; `container` and `container_config` say where it came from.
  A commit with no changes adds no layer, and marks its history entry `empty_layer`.
- import: one layer, history reset to one entry `Imported from -` (or -m).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lamina import digest
from lamina.jsondoc import thaw
from lamina.ops.changes import apply_changes
from lamina.platforms import host_architecture
from lamina.spec import Config, HistoryEntry, canonical_json

# sha256 of an empty tar (two zero blocks): Docker's layer.EmptyLayer digest
EMPTY_TAR_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

# Docker's container.Config with every field at its zero value (what `import` starts from)
_ZERO_CONFIG: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


def container_config(
    image: Config,
    *,
    container_id: str,
    image_name: str,
    command: Sequence[str] = (),
    attach: bool = False,
) -> dict[str, Any]:
    """The config a container starts with: the image's, plus what `create`/`run` said."""
    doc = {**_ZERO_CONFIG, **thaw(image.container_config)}
    doc.update(
        Hostname=digest.short(container_id),
        Image=image_name,
        AttachStdout=attach,
        AttachStderr=attach,
    )
    if command:
        doc["Cmd"] = list(command)
    return doc


def child_config(
    parent: Config,
    *,
    diff_id: str,
    container_id: str,
    container_conf: Mapping[str, Any],
    created: str,
    author: str = "",
    comment: str = "",
    changes: Sequence[str] = (),
) -> bytes:
    """The config bytes of the image `commit` makes on top of `parent`."""
    empty = diff_id == EMPTY_TAR_DIFF_ID
    entry = HistoryEntry(
        created=created,
        created_by=" ".join(container_conf.get("Cmd") or []),
        author=author,
        comment=comment,
        empty_layer=empty,
    )
    doc: dict[str, Any] = {
        key: thaw(parent.doc[key])
        for key in ("architecture", "variant", "os", "os.version", "os.features")
        if key in parent.doc
    }
    diff_ids = list(parent.diff_ids) + ([] if empty else [diff_id])
    doc.update(
        config=apply_changes(dict(container_conf), changes),
        container=container_id,
        container_config=thaw(container_conf),
        created=created,
        history=[*thaw(parent.doc.get("history") or ()), entry.to_json()],
        rootfs={"type": "layers", "diff_ids": diff_ids},
    )
    if author:
        doc["author"] = author
    return canonical_json(doc)


def imported_config(
    diff_id: str,
    *,
    created: str,
    comment: str = "",
    changes: Sequence[str] = (),
    architecture: str = "",
) -> bytes:
    """The config bytes of a one-layer image made by `import` (history starts afresh)."""
    comment = comment or "Imported from -"
    doc = {
        "architecture": architecture or host_architecture(),
        "comment": comment,
        "config": apply_changes(dict(_ZERO_CONFIG), changes),
        "container_config": dict(_ZERO_CONFIG),
        "created": created,
        "history": [HistoryEntry(created=created, comment=comment).to_json()],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    return canonical_json(doc)
