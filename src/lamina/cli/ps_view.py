"""How `ps` shows a container: Docker's ContainerContext fields (for --format and the
table) and its JSON, as `docker ps` prints them."""

from __future__ import annotations

import json
from typing import Any

from lamina import digest, humanize
from lamina.api.lookup import get_image
from lamina.cli import fields
from lamina.cli.app import Ctx
from lamina.cli.template_funcs import Row
from lamina.containers.records import CREATED, EXITED, Container
from lamina.errors import LaminaError


def _command(ctr: Container) -> str:
    argv = ctr.command
    args = [f"'{a}'" if " " in a else a for a in argv[1:]]
    return " ".join([argv[0], *args]) if argv else ""


def _status(ctr: Container) -> str:
    state = ctr.status
    if state == CREATED:
        return "Created"
    if state == EXITED:
        return f"Exited ({ctr.exit_code}) {humanize.ago(ctr.finished)}"
    return "Up " + humanize.ago(ctr.started).removesuffix(" ago")


def _image_column(c: Ctx, ctr: Container) -> str:
    """The name the container was made from, or the image ID once that name moved on."""
    try:
        if get_image(c.store, ctr.image_name).id == ctr.image_id:
            return ctr.image_name
    except LaminaError:
        pass
    return digest.short(ctr.image_id)


def ps_row(c: Ctx, x: Container, no_trunc: bool) -> Row:
    """Docker's ContainerContext fields (cli/fields.py) of one container."""
    command = _command(x) if no_trunc else fields.ellipsis(_command(x), 20)
    labels = (x.config or {}).get("Labels") or {}
    return Row(
        {
            "Command": json.dumps(command, ensure_ascii=False),
            "CreatedAt": fields.go_time(x.created),
            "ID": x.id if no_trunc else x.short_id,
            "Image": _image_column(c, x),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "LocalVolumes": "0",
            "Mounts": "",
            "Names": x.name,
            "Networks": "",
            "Ports": "",
            "RunningFor": humanize.ago(x.created),
            "Size": "N/A",
            "State": x.status,
            "Status": _status(x),
        }
    )


def ps_json(c: Ctx, x: Container) -> dict[str, Any]:
    return {
        "Id": x.id,
        "Names": [x.name],
        "Image": _image_column(c, x),
        "ImageID": x.image_id,
        "Command": _command(x),
        "Created": x.created,
        "State": x.status,
        "Status": _status(x),
        "ExitCode": x.exit_code,
    }
