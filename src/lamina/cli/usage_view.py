"""`system df`'s rows and its -v report, in Docker's words and layout (api/usage.py).

Sizes are Docker's HumanSize: 4 significant digits (`images` shows 3).
"""

from __future__ import annotations

import json

from lamina import digest, humanize
from lamina.api.usage import ImageUsage, Usage
from lamina.cli import fields
from lamina.cli.formatting import render
from lamina.cli.template_funcs import Row

VERBOSE_IMAGES = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    "\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
)
VERBOSE_CONTAINERS = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}"
    "\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
)
NO_VOLUMES = "VOLUME NAME   LINKS     SIZE\n"
NO_CACHE = "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"


def _size(n: int) -> str:
    return humanize.size(n, 4)


def _reclaim(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return _size(reclaimable)


def summary(u: Usage) -> list[Row]:
    boxes = u.containers
    rows = [
        ("Images", u.total_images, u.active_images, u.layers_size, u.image_reclaimable),
        (
            "Containers",
            len(boxes),
            sum(1 for x in boxes if x.container.running),
            u.containers_size,
            u.container_reclaimable,
        ),
    ]
    out = [
        Row(
            Type=kind,
            TotalCount=str(total),
            Active=str(active),
            Size=_size(size),
            Reclaimable=_reclaim(reclaimable, size),
        )
        for kind, total, active, size, reclaimable in rows
    ]
    nothing = {"TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}
    return [*out, Row(Type="Local Volumes", **nothing), Row(Type="Build Cache", **nothing)]


def verbose(u: Usage) -> str:
    images = []
    first: dict[str, ImageUsage] = {}  # Docker shows an image once, by its first name
    for i in sorted(u.images, key=lambda i: (i.row.repository, i.row.tag)):
        first.setdefault(i.row.id, i)
    for i in u.images:
        if first[i.row.id] is not i:
            continue
        row = fields.image(i.row)
        row.update(Size=_size(i.row.size), SharedSize=_size(i.shared), UniqueSize=_size(i.unique))
        row.update(Containers=str(i.containers))
        images.append(row)
    containers = [
        Row(
            ID=digest.short(x.container.id),
            Image=x.container.image_name,
            Command=json.dumps(fields.ellipsis(" ".join(x.container.command), 20)),
            LocalVolumes="0",
            Size=_size(x.size),
            RunningFor=humanize.ago(x.container.created),
            Status=x.container.status.capitalize(),
            Names=x.container.name,
        )
        for x in u.containers
    ]
    return (
        "Images space usage:\n\n"
        + render(VERBOSE_IMAGES, images, headers=fields.IMAGE_HEADERS)
        + "\nContainers space usage:\n\n"
        + render(VERBOSE_CONTAINERS, containers, headers=fields.CONTAINER_HEADERS)
        + "\nLocal Volumes space usage:\n\n"
        + NO_VOLUMES
        + "\nBuild cache usage: 0B\n\n"
        + NO_CACHE
    )
