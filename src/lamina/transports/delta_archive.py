"""Delta archives: a docker-archive whose manifest.json lists every layer but whose tar
leaves out the files of layers the recipient already has (docs/design.md §6).

What is in it: `manifest.json` and `repositories` (as in a full save), each image's
config at `blobs/sha256/<id>`, and the layers it carries at `blobs/sha256/<diff_id>`.
Every config still lists all its diff_ids, so image IDs do not change.

What is NOT in it: the OCI layout (`oci-layout`, `index.json`, manifest blobs) that a
full `lamina save` adds. An OCI index is a promise that its manifests' blobs can be
had, and the readers that prefer it would break that promise badly:
- Docker 25+ with the containerd image store (the default for new installs since
  Docker 29) imports through containerd's archive importer, which uses index.json
  whenever `oci-layout` is present and then ignores manifest.json. Docker creates
  the images, then unpacks them; a layer that is neither in the tar nor already a
  snapshot makes it print "Loaded image" and an unpack error and exit 0, leaving a
  named image whose layers do not exist (moby daemon/containerd/image_exporter.go).
  Without an OCI layout containerd takes its manifest.json route, which needs every
  layer file, and refuses the archive with "layer ... not found" before it creates
  any image: a clean failure, even where the base is present. For such a recipient
  use `lamina expand` (or `send`/`receive` between lamina stores).
- Docker with its classic image store (every version from 1.10, and Docker 25+ when
  not using containerd) reads manifest.json only and looks each layer's chain ID up
  before it opens the file: the delta loads wherever the base is present.
- skopeo/podman refuse missing files in a docker-archive up front; read as an
  oci-archive the delta is refused at once ("no index.json") instead of failing
  half-way through a copy; umoci refuses it as not being a layout.
- `lamina load` reads manifest.json and checks the omitted layers first.
The tar is deterministic like a full save: sorted members, fixed mtimes and owners.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import InvalidInputError
from lamina.image import Image
from lamina.progress import Progress, Task
from lamina.transports import docker_archive, oci_layout

CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    open: Callable[[], BinaryIO] | None = None  # None: `data` is the content
    data: bytes = b""


def members(images: list[Image], omit: set[str]) -> list[Member]:
    """The files of a delta archive of `images` leaving out layers in `omit`, sorted."""
    out: dict[str, Member] = {}
    for image in images:
        path = oci_layout.blob_path(image.id)
        out[path] = Member(path, len(image.config.raw), data=image.config.raw)
        for layer in image.layers:
            if not layer.digest:
                raise InvalidInputError(f"layer {layer.diff_id} has no known digest to save under")
            path = oci_layout.blob_path(layer.digest)
            if layer.diff_id not in omit and path not in out:
                out[path] = Member(path, layer.size, layer.open_blob)
    for name, data in (
        (docker_archive.MANIFEST, docker_archive.manifest_json(images)),
        ("repositories", docker_archive.repositories_json(images)),
    ):
        out[name] = Member(name, len(data), data=data)
    return sorted(out.values(), key=lambda m: m.name)


def write_delta(
    images: list[Image],
    out: BinaryIO,
    omit: set[str],
    progress: Progress | None = None,
    label: str = "Saving",
) -> int:
    """Write a delta archive to `out` (a stream: a file, a pipe); returns bytes written.

    Headers and payloads are written directly (no tarfile stream), so the archive
    ends with the two zero blocks tar requires and no 10 KB record padding: the
    bytes beyond the carried layers are their headers, the configs and manifest.json.
    """
    files = members(images, omit)
    task = (progress or Progress.null()).task(label, sum(f.size for f in files))
    written = 0
    for d in _dirs(files):
        written += _write(out, _header(d, 0, directory=True))
    for f in files:
        written += _write(out, _header(f.name, f.size))
        if f.open is None:
            written += _write(out, f.data)
        else:
            with f.open() as stream:
                written += _copy(stream, out, f.size, f.name, task)
        written += _write(out, _padding(f.size))
        if f.open is None:
            task.advance(f.size)
    written += _write(out, bytes(2 * tarfile.BLOCKSIZE))
    task.done()
    return written


def _write(out: BinaryIO, data: bytes) -> int:
    out.write(data)
    return len(data)


def _copy(stream: BinaryIO, out: BinaryIO, size: int, name: str, task: Task) -> int:
    """Copy exactly `size` bytes, then read one more: a verifying stream checks its
    digest when it sees its end, before this member counts as written."""
    left = size
    while left:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            raise InvalidInputError(f"{name} is shorter than its recorded size")
        out.write(chunk)
        left -= len(chunk)
        task.advance(len(chunk))
    if stream.read(1):
        raise InvalidInputError(f"{name} is longer than its recorded size")
    return size


def _padding(size: int) -> bytes:
    return bytes(-size % tarfile.BLOCKSIZE)


def _dirs(files: list[Member]) -> Iterator[str]:
    seen: set[str] = set()
    for f in files:
        parts = f.name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            seen.add("/".join(parts[:i]))
    yield from sorted(seen)


def _header(name: str, size: int, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name + ("/" if directory else ""))
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.size = 0 if directory else size
    info.mode = 0o755 if directory else 0o644
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
