"""The fields `--format` templates see, named and shaped as Docker's (cli/command/formatter).

One function per listing turns a row into a dict of Docker's field names to the
text Docker prints; `*_HEADERS` are the column titles of `table` templates and
`*_TABLE` the usual table. `{{json .}}` prints these dicts with their keys sorted.

    images   ID Repository Tag Digest CreatedSince CreatedAt Size VirtualSize
             SharedSize UniqueSize Containers (the last three: N/A, as in Docker)
    history  ID CreatedSince CreatedAt CreatedBy Size Comment
    ps       ID Image Command CreatedAt RunningFor Ports State Status Size Names
             Labels Mounts Networks LocalVolumes
    system df  Type TotalCount Active Size Reclaimable
"""

from __future__ import annotations

from lamina import digest, humanize
from lamina.api.views import HistoryRow, ImageRow
from lamina.cli.template_funcs import Row

IMAGE_TYPE = "*formatter.imageContext"
IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "VirtualSize": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "Containers": "CONTAINERS",
}
IMAGE_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGE_DIGESTS_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)
HISTORY_TYPE = "*formatter.historyContext"
HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
CONTAINER_TYPE = "*formatter.ContainerContext"
CONTAINER_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
}
CONTAINER_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
DF_TYPE = "*formatter.diskUsageImagesContext"
DF_HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}
DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"


def go_time(created: str) -> str:
    """Go's time.Time.String() in local time: "2026-12-02 02:45:01 +0000 UTC"."""
    when = humanize.parse_time(created)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z") if when else ""


def rfc3339(created: str) -> str:
    """Go's RFC 3339 in local time, seconds only: "2026-12-02T02:45:00Z"."""
    when = humanize.parse_time(created)
    if when is None:
        return ""
    text = when.astimezone().replace(microsecond=0).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def ellipsis(text: str, width: int) -> str:
    """Docker's formatter.Ellipsis: at most `width` characters, the last one "…"."""
    return text if len(text) <= width else text[: width - 1] + "…"


def image(r: ImageRow, no_trunc: bool = False) -> Row:
    return Row(
        {
            "Containers": "N/A",
            "CreatedAt": go_time(r.created),
            "CreatedSince": humanize.ago(r.created),
            "Digest": r.digest,
            "ID": r.id if no_trunc else digest.short(r.id),
            "Repository": r.repository,
            "SharedSize": "N/A",
            "Size": humanize.size(r.size),
            "Tag": r.tag,
            "UniqueSize": "N/A",
            "VirtualSize": humanize.size(r.size, 4),
        }
    )


def history(r: HistoryRow, no_trunc: bool = False, human: bool = True) -> Row:
    created_by = r.entry.created_by.replace("\t", " ")
    missing = r.image == "<missing>"
    return Row(
        {
            "Comment": r.entry.comment,
            "CreatedAt": rfc3339(r.entry.created),
            "CreatedBy": created_by if no_trunc else ellipsis(created_by, 45),
            "CreatedSince": humanize.ago(r.entry.created) if human else rfc3339(r.entry.created),
            "ID": r.image if no_trunc or missing else digest.short(r.image),
            "Size": humanize.size(r.size) if human else str(r.size),
        }
    )
