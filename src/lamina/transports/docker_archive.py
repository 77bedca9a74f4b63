"""docker-archive: read all three layouts; the manifest.json a writer puts in one.

Input layouts, all driven by `manifest.json`:
  legacy Docker (<25):  <v1id>/layer.tar, <v1id>/json, <config-hex>.json
  podman / skopeo:      <diff_id-hex>.tar, <v1id>/layer.tar -> ../<hex>.tar symlinks
  Docker 25+:           an OCI layout plus manifest.json pointing into blobs/sha256/

Writing (a full or delta docker-archive, or an oci-archive) is transports/archive_writer.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, BinaryIO

from lamina import digest, mediatype, reference
from lamina.errors import InvalidInputError, NotFoundError, UsageError
from lamina.image import Image, Layer
from lamina.layer import compression
from lamina.spec import Config, load_json
from lamina.transports import archive_patches, oci_layout
from lamina.transports.tarfs import ArchiveFS

MANIFEST = "manifest.json"


def is_docker_archive(fs: ArchiveFS) -> bool:
    return fs.exists(MANIFEST)


def _entries(fs: ArchiveFS) -> list[dict[str, Any]]:
    doc = load_json(fs.read_bytes(MANIFEST), f"{fs.label}: manifest.json")
    if not isinstance(doc, list) or not all(isinstance(e, dict) for e in doc):
        raise InvalidInputError(f"{fs.label}: manifest.json is not a list of images")
    return [e for e in doc if not archive_patches.is_refusal(e)]


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
    opener = _opener(fs, path)
    return Layer(diff_id, dig, fs.size(path), media_type, opener, spool=fs.spooled(path))


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


# -- what a writer puts in manifest.json and repositories ----------------------


def manifest_json(images: list[Image], refuse: bool = False) -> bytes:
    """manifest.json; `refuse` puts first the entry that makes Docker refuse an archive
    carrying patches (transports/archive_patches.py)."""
    doc = [
        {
            "Config": oci_layout.blob_path(image.id),
            "RepoTags": list(image.names) or None,  # null, as Docker writes it
            "Layers": [oci_layout.blob_path(layer.digest) for layer in image.layers],
        }
        for image in images
    ]
    if refuse:
        doc.insert(0, archive_patches.refusal_entry())
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
