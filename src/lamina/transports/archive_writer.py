"""Writing images as one tar: a docker-archive (full or delta) or an oci-archive.

    n = write_archive(images, out, omit=plan.omit)   # bytes written to the stream `out`

What an archive holds (members sorted by name, directories first; mtime 0, owner 0,
so the same images give the same bytes):

| member                        | full docker | delta docker | oci |
|-------------------------------|-------------|--------------|-----|
| blobs/sha256/<config>         | yes         | yes          | yes |
| blobs/sha256/<layer digest>   | every layer | carried only | yes |
| blobs/sha256/<manifest>       | yes         | no           | yes |
| oci-layout, index.json        | yes         | no           | yes |
| manifest.json, repositories   | yes         | yes          | no  |
| padded to a 10 KiB record     | yes         | no           | yes |

A delta may also carry some layers as patches against layers the recipient has:
`lamina-patches.json` and the patch blobs, and a first manifest.json entry that makes
plain `docker load` refuse it at once (transports/archive_patches.py).

(`layout=True` makes a delta with the full column's layout and padding but only the
carried layers: what Docker's containerd image store needs, see api/docker.py.)

A full docker-archive is Docker 25+'s layout: manifest.json (+ repositories) AND an OCI
layout, so Docker since 1.10, Docker 25+, podman and skopeo all load it. An archive is a
delta when `omit` names a layer of its images: it lists every layer in manifest.json and
every config keeps all its diff_ids (image IDs do not change), but the files of the
omitted layers are not in the tar.

A delta carries NO OCI layout. An OCI index is a promise that its manifests' blobs can
be had, and the readers that prefer it would break that promise badly:
- Docker 25+ with the containerd image store (the default for new installs since
  Docker 29) imports through containerd's archive importer, which uses index.json
  whenever `oci-layout` is present and then ignores manifest.json. Docker creates the
  images, then unpacks them; a layer that is neither in the tar nor already a snapshot
  makes it print "Loaded image" and an unpack error and exit 0, leaving a named image
  whose layers do not exist (moby daemon/containerd/image_exporter.go). Without an OCI
  layout containerd takes its manifest.json route, which needs every layer file, and
  refuses the archive with "layer ... not found" before it creates any image: a clean
  failure, even where the base is present. For such a recipient use `lamina expand`
  (or `send`/`receive` between lamina stores).
- Docker with its classic image store (every version from 1.10, and Docker 25+ when
  not using containerd) reads manifest.json only and looks each layer's chain ID up
  before it opens the file: the delta loads wherever the base is present.
- skopeo/podman refuse missing files in a docker-archive up front; read as an
  oci-archive the delta is refused at once ("no index.json") instead of failing
  half-way through a copy; umoci refuses it as not being a layout.
- `lamina load` reads manifest.json and checks the omitted layers first.
A delta ends after the two zero blocks tar requires (as Go's archive/tar ends one), so
its bytes beyond the carried layers are their headers, the configs and manifest.json; a
full archive keeps the record padding Python's tarfile adds, so saves stay
byte-identical across lamina versions. An oci-archive cannot leave layers out.

Every layer is copied as exactly the size its header promised, then read one byte
further, so a verifying stream checks its digest before the member counts as written.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from lamina import digest
from lamina.errors import InvalidInputError, UsageError
from lamina.image import Artifact, Image, LayerPatch
from lamina.progress import Progress, Task
from lamina.spec import Descriptor
from lamina.transports import archive_patches, docker_archive, oci_layout

CHUNK = 1 << 20
FORMATS = ("docker", "oci")


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    open: Callable[[], BinaryIO] | None = None  # None: `data` is the content
    data: bytes = b""


def is_delta(images: Iterable[Image], omit: Collection[str]) -> bool:
    """Whether leaving out `omit` (diff_ids) leaves out any layer of `images`."""
    return bool(omit) and any(x.diff_id in omit for image in images for x in image.layers)


def members(
    images: list[Image],
    fmt: str = "docker",
    omit: Collection[str] = (),
    layout: bool | None = None,
    artifacts: Sequence[tuple[Artifact, oci_layout.Blobs]] = (),
    patches: Sequence[LayerPatch] = (),
) -> list[Member]:
    """The files of the archive (see the module doc's table), sorted by name.

    `layout` None: an OCI layout unless the archive is a delta; True: always (a delta
    for Docker's containerd image store, see api/docker.py). `patches` carry layers
    that `omit` leaves out as patches (transports/archive_patches.py)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown archive format {fmt!r}", "use docker or oci")
    if is_delta(images, omit) and fmt != "docker":
        raise UsageError(
            "only a docker-archive can leave layers out",
            "write a docker-archive",
            command="drop --format",
        )
    if patches and (fmt != "docker" or layout or any(p.diff_id not in omit for p in patches)):
        raise UsageError(
            "only a delta docker-archive can carry layer patches",
            "write a docker-archive",
            command="drop --format",
        )
    delta = not _with_layout(images, omit, layout)  # no layout: written as a delta
    out: dict[str, Member] = {}

    def add(name: str, data: bytes) -> None:
        out[name] = Member(name, len(data), data=data)

    for image in images:
        add(oci_layout.blob_path(image.id), image.config.raw)
        if not delta:
            manifest = image.manifest_bytes()
            add(oci_layout.blob_path(digest.of_bytes(manifest)), manifest)
        for layer in image.layers:
            if not layer.digest:
                raise InvalidInputError(f"layer {layer.diff_id} has no known digest to save under")
            path = oci_layout.blob_path(layer.digest)
            if layer.diff_id not in omit and path not in out:
                out[path] = Member(path, layer.size, layer.open_blob)
    for artifact, open_blob in artifacts:
        named = [Descriptor("", artifact.digest, artifact.size), *artifact.blobs]
        for blob in named:
            path = oci_layout.blob_path(blob.digest)
            out[path] = Member(path, blob.size, lambda d=blob.digest, o=open_blob: o(d))  # type: ignore[misc]
    if not delta:
        marker, index = oci_layout.layout_files(images, artifacts=[a for a, _ in artifacts])
        add("oci-layout", marker)
        add("index.json", index)
    for patch in patches:
        path = archive_patches.blob_path(patch)
        out[path] = Member(path, patch.patch_size, patch.open_patch)
    if patches:
        add(archive_patches.FILE, archive_patches.document(patches))
    if fmt == "docker":
        add(docker_archive.MANIFEST, docker_archive.manifest_json(images, refuse=bool(patches)))
        add("repositories", docker_archive.repositories_json(images))
    return sorted(out.values(), key=lambda m: m.name)


def _with_layout(images: list[Image], omit: Collection[str], layout: bool | None) -> bool:
    return not is_delta(images, omit) if layout is None else layout


def write_archive(
    images: list[Image],
    out: BinaryIO,
    fmt: str = "docker",
    omit: Collection[str] = (),
    progress: Progress | None = None,
    label: str = "Saving",
    layout: bool | None = None,
    artifacts: Sequence[tuple[Artifact, oci_layout.Blobs]] = (),
    patches: Sequence[LayerPatch] = (),
) -> int:
    """Write `images` as one tar to the stream `out`; returns the bytes written.

    `fmt` is "docker" (a docker-archive) or "oci" (an oci-archive); layers whose
    diff_id is in `omit` are left out (a delta, docker only), some of them carried
    as `patches` instead.
    """
    files = members(images, fmt, omit, layout, artifacts, patches)
    task = (progress or Progress.null()).task(label, sum(f.size for f in files))
    written = 0
    for d in _dirs(files):
        written += _write(out, tar_header(d, 0, directory=True))
    for f in files:
        written += _write(out, tar_header(f.name, f.size))
        if f.open is None:
            written += _write(out, f.data)
            task.advance(f.size)
        else:
            with f.open() as stream:
                written += _copy(stream, out, f.size, f.name, task)
        written += _write(out, bytes(-f.size % tarfile.BLOCKSIZE))
    written += _write(out, bytes(2 * tarfile.BLOCKSIZE))
    if _with_layout(images, omit, layout):
        written += _write(out, bytes(-written % tarfile.RECORDSIZE))
    task.done()
    return written


def _write(out: BinaryIO, data: bytes) -> int:
    out.write(data)
    return len(data)


def _copy(stream: BinaryIO, out: BinaryIO, size: int, name: str, task: Task) -> int:
    """Copy exactly `size` bytes (see the module doc); a short or long blob fails."""
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


def _dirs(files: list[Member]) -> list[str]:
    seen: set[str] = set()
    for f in files:
        parts = f.name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            seen.add("/".join(parts[:i]))
    return sorted(seen)


def tar_header(name: str, size: int, directory: bool = False) -> bytes:
    """A member's header as every archive lamina writes has it (mtime 0, owner 0)."""
    info = tarfile.TarInfo(name + ("/" if directory else ""))
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.size = 0 if directory else size
    info.mode = 0o755 if directory else 0o644
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
