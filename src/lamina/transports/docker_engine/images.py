"""What a Docker Engine holds: its images with their tags and layer stacks.

From `GET /images/json?all=1` (ids, tags, parents) and, per image, `GET
/images/{id}/json` (`RootFS.Layers`: the diff_ids, bottom first; chain IDs follow
from them). api/docker.py turns this into the same Inventory a store gives, so the
delta planner treats a daemon like any other recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamina import digest
from lamina.errors import DaemonError, NotFoundError
from lamina.transports.docker_engine.client import Engine


@dataclass(frozen=True)
class DaemonImage:
    id: str
    tags: tuple[str, ...]
    diff_ids: tuple[str, ...]
    parent: str  # the build parent docker reports, or ""
    labels: dict[str, str]

    @property
    def chain_ids(self) -> list[str]:
        return digest.chain_ids(self.diff_ids)


def of_inspect(doc: dict[str, Any], label: str) -> DaemonImage:
    try:
        layers = (doc.get("RootFS") or {}).get("Layers") or []
        labels = (doc.get("Config") or {}).get("Labels") or {}
        return DaemonImage(
            digest.validate(doc["Id"]),
            tuple(t for t in doc.get("RepoTags") or () if t != "<none>:<none>"),
            tuple(digest.validate(d) for d in layers),
            doc.get("Parent") or "",
            {str(k): str(v) for k, v in labels.items()},
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise DaemonError(f"{label} described an image lamina cannot read ({exc})") from None


def list_images(engine: Engine) -> list[DaemonImage]:
    """Every image of the daemon, intermediate ones included, sorted by ID."""
    ids = sorted({row["Id"] for row in engine.images() if isinstance(row, dict) and "Id" in row})
    return [of_inspect(engine.inspect(i), engine.label) for i in ids]


def find(engine: Engine, name: str) -> DaemonImage:
    """The image `name` (a tag, an ID or an ID prefix) names in the daemon."""
    try:
        doc = engine.inspect(name)
    except NotFoundError:
        raise NotFoundError(
            f"{name}: no such image in the Docker Engine at {engine.label}",
            "see `docker images`; write docker-daemon:NAME[:TAG] or an image ID",
        ) from None
    return of_inspect(doc, engine.label)
