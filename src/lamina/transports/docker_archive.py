"""docker-archive: read all three layouts, write the combined Docker 25+ layout.

Input layouts, all driven by `manifest.json`:
  legacy Docker (<25):  <v1id>/layer.tar, <v1id>/json, <config-hex>.json
  podman / skopeo:      <diff_id-hex>.tar, <v1id>/layer.tar -> ../<hex>.tar symlinks
  Docker 25+:           an OCI layout plus manifest.json pointing into blobs/sha256/

Output: one tar holding BOTH manifest.json (+ repositories) and an OCI layout,
so Docker since 1.10, Docker 25+, podman and skopeo all load it. Members are
sorted, with fixed mtimes and owners: the same images give the same bytes.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from lamina import digest, mediatype, reference
from lamina.errors import InvalidInputError, NotFoundError, UsageError
from lamina.image import Image, Layer
from lamina.layer import compression
from lamina.progress import Progress
from lamina.spec import Config, load_json
from lamina.transports import oci_layout
from lamina.transports.tarfs import ArchiveFS

MANIFEST = "manifest.json"


def is_docker_archive(fs: ArchiveFS) -> bool:
    return fs.exists(MANIFEST)


def _entries(fs: ArchiveFS) -> list[dict[str, Any]]:
    doc = load_json(fs.read_bytes(MANIFEST), f"{fs.label}: manifest.json")
    if not isinstance(doc, list) or not all(isinstance(e, dict) for e in doc):
        raise InvalidInputError(f"{fs.label}: manifest.json is not a list of images")
    return doc


def _config_bytes(fs: ArchiveFS, path: str) -> bytes:
    """The config file's bytes. Its ID is the hash of those bytes, whatever the file is
    called (Docker's loader does the same: go-containerregistry writes other names)."""
    try:
        return fs.read_bytes(path)
    except NotFoundError:
        raise InvalidInputError(f"{fs.label}: image config {path} is missing") from None


def _names(fs: ArchiveFS, tags: object) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidInputError(f"{fs.label}: manifest.json has RepoTags that are not strings")
    try:
        return [reference.parse(t).familiar for t in tags]
    except UsageError as exc:
        raise InvalidInputError(
            f"{fs.label}: manifest.json names an invalid RepoTag ({exc.message})",
            "fix the archive's manifest.json or load it with a tool that drops names",
        ) from None


def _layer(fs: ArchiveFS, path: str, diff_id: str) -> Layer:
    if fs.listed(path) and not fs.exists(path):
        raise InvalidInputError(
            f"{fs.label}: layer file {path} is not a regular file in the archive "
            "(a link to nothing, outside the archive, or a special file)",
            "the archive is damaged or hostile",
        )
    if not fs.exists(path):
        # a delta archive: the recipient is expected to have this layer already
        return Layer(diff_id, diff_id, 0, mediatype.OCI_LAYER, _missing(fs.label, path), False)
    with fs.open(path) as f:
        kind = compression.sniff(f.read(8))
    # a compressed layer's own digest is learnt when it is read; diff_id still verifies it
    dig = diff_id if kind == "" else ""
    # xz and bzip2 (Docker reads them) have no media type: the store keeps layers plain
    media_type = mediatype.layer_type(kind if kind in ("gzip", "zstd") else "")
    return Layer(diff_id, dig, fs.size(path), media_type, _opener(fs, path))


def _opener(fs: ArchiveFS, path: str) -> Callable[[], BinaryIO]:
    return lambda: fs.open(path)


def _missing(label: str, path: str) -> Callable[[], BinaryIO]:
    def fail() -> BinaryIO:
        raise NotFoundError(f"{label} does not carry layer file {path}")

    return fail


def read_archive(fs: ArchiveFS) -> list[Image]:
    images: dict[str, Image] = {}
    for n, entry in enumerate(_entries(fs)):
        config_path, paths = entry.get("Config"), entry.get("Layers")
        if not isinstance(config_path, str) or not isinstance(paths, list):
            raise InvalidInputError(f"{fs.label}: manifest.json entry {n} lacks Config or Layers")
        config = Config.parse(_config_bytes(fs, config_path))
        if len(paths) != len(config.diff_ids):
            raise InvalidInputError(
                f"{fs.label}: image {digest.short(config.id, algorithm=True)} lists {len(paths)} "
                "layer files "
                f"but its config has {len(config.diff_ids)} layers"
            )
        layers = tuple(_layer(fs, p, d) for p, d in zip(paths, config.diff_ids, strict=True))
        names = _names(fs, entry.get("RepoTags"))
        previous = images.get(config.id)
        if previous is not None:
            names = sorted({*previous.names, *names})
        images[config.id] = Image(config, layers, tuple(names))
    return list(images.values())


# -- writing -------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    name: str
    size: int
    open: Callable[[], BinaryIO] | None = None
    data: bytes = b""


def _blob_files(images: list[Image], omit: set[str]) -> Iterator[_File]:
    seen: set[str] = set()
    for image in images:
        raw = image.config.raw
        if image.id not in seen:
            seen.add(image.id)
            yield _File(oci_layout.blob_path(image.id), len(raw), data=raw)
        manifest = image.manifest_bytes()
        mdig = digest.of_bytes(manifest)
        if mdig not in seen:
            seen.add(mdig)
            yield _File(oci_layout.blob_path(mdig), len(manifest), data=manifest)
        for layer in image.layers:
            if layer.digest in seen or layer.diff_id in omit:
                continue
            seen.add(layer.digest)
            yield _File(oci_layout.blob_path(layer.digest), layer.size, layer.open_blob)


def manifest_json(images: list[Image]) -> bytes:
    doc = [
        {
            "Config": oci_layout.blob_path(image.id),
            "RepoTags": list(image.names) or None,  # null, as Docker writes it
            "Layers": [oci_layout.blob_path(layer.digest) for layer in image.layers],
        }
        for image in images
    ]
    return json.dumps(doc, separators=(",", ":")).encode()


def repositories_json(images: list[Image]) -> bytes:
    repos: dict[str, dict[str, str]] = {}
    for image in images:
        if not image.layers:
            continue
        top = digest.hex_of(image.layers[-1].digest)
        for name in image.names:
            ref = reference.parse(name)
            repos.setdefault(ref.familiar_repository, {})[ref.tag] = top
    return json.dumps(repos, separators=(",", ":"), sort_keys=True).encode()


def archive_files(images: list[Image], fmt: str, omit: set[str]) -> list[_File]:
    """Every file of the archive, sorted by name."""
    for image in images:
        for layer in image.layers:
            if not layer.digest:
                raise InvalidInputError(f"layer {layer.diff_id} has no known digest to save under")
    files = list(_blob_files(images, omit))
    layout, index = oci_layout.layout_files(images)
    files += [
        _File("oci-layout", len(layout), data=layout),
        _File("index.json", len(index), data=index),
    ]
    if fmt == "docker":
        mj, repos = manifest_json(images), repositories_json(images)
        files += [_File(MANIFEST, len(mj), data=mj), _File("repositories", len(repos), data=repos)]
    return sorted(files, key=lambda f: f.name)


def _dirs(files: Iterable[_File]) -> list[str]:
    out: set[str] = set()
    for f in files:
        parts = f.name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return sorted(out)


def _info(name: str, size: int, is_dir: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name + ("/" if is_dir else ""))
    info.size = 0 if is_dir else size
    info.mode = 0o755 if is_dir else 0o644
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_archive(
    images: list[Image],
    out: BinaryIO,
    fmt: str = "docker",
    omit: set[str] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write images as one tar to `out`; layers whose diff_id is in `omit` are left out.

    Returns the number of bytes written. `fmt` is "docker" (manifest.json + OCI
    layout) or "oci" (the OCI layout alone, an oci-archive).
    """
    files = archive_files(images, fmt, omit or set())
    total = sum(f.size for f in files)
    task = (progress or Progress.null()).task("Saving", total)
    counter = _CountingWriter(out)
    for d in _dirs(files):
        counter.write(_info(d, 0, is_dir=True).tobuf(tarfile.PAX_FORMAT))
    for f in files:
        counter.write(_info(f.name, f.size).tobuf(tarfile.PAX_FORMAT))
        if f.open is None:
            counter.write(f.data)
        else:
            with f.open() as stream:
                _copy_exact(stream, counter, f.size, f.name)
        counter.write(bytes(-f.size % tarfile.BLOCKSIZE))
        task.advance(f.size)
    # end of archive: two zero blocks, then padding to a whole record, as tar writes
    counter.write(bytes(2 * tarfile.BLOCKSIZE))
    counter.write(bytes(-counter.count % tarfile.RECORDSIZE))
    task.done()
    return counter.count


def _copy_exact(stream: BinaryIO, out: _CountingWriter, size: int, name: str) -> None:
    """Copy exactly `size` bytes (headers promised that many); a short or long blob fails."""
    left = size
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise InvalidInputError(f"{name} is shorter than its recorded size")
        out.write(chunk)
        left -= len(chunk)
    if stream.read(1):  # also lets a verifying stream reach its end and check the digest
        raise InvalidInputError(f"{name} is longer than its recorded size")


class _CountingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.count = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()
