"""Expanding a delta archive into a complete one, for tools that refuse missing files.

podman and skopeo refuse a docker-archive that lacks layer files, even when they have
those layers (docs/testing.md §8). `expand` fills every layer a delta leaves out from a source
that has it (the store, an archive holding the base) and the caller writes the
result as a full save: the configs are the delta's own bytes, so image IDs, history
and tags are unchanged.

Every layer that goes out is checked against its diff_id while it is copied (the
store verifies its own blobs; layers taken from archives are wrapped here), and a
compressed layer is decompressed to a temp file first, because a tar member's size
must be known before its bytes are written. Nothing is held in memory. With
`checked`, each layer also passes the tar check load gives it (layer/tarcheck.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from lamina import digest, mediatype
from lamina.errors import InvalidInputError, MissingLayersError
from lamina.image import Image, Layer
from lamina.layer.tarcheck import CheckedTar

LayerSource = Callable[[str], Layer | None]  # diff_id -> a plain, verified layer, or None


def fill(images: Sequence[Image], sources: Sequence[LayerSource], scratch: Path) -> list[Image]:
    """The images with every layer present: carried ones verified, missing ones filled."""
    out, lacking = [], []
    for image in images:
        layers = []
        for layer in image.layers:
            found = plain(layer, scratch) if layer.available else _first(sources, layer.diff_id)
            if found is None:
                lacking.append((image, layer))
            else:
                layers.append(found)
        out.append(replace(image, layers=tuple(layers)))
    if lacking:
        raise _missing(lacking)
    return out


def first_of(sources: Sequence[LayerSource]) -> LayerSource:
    """One source: the first of `sources` that has the layer."""
    return lambda diff_id: _first(sources, diff_id)


def _first(sources: Iterable[LayerSource], diff_id: str) -> Layer | None:
    for source in sources:
        found = source(diff_id)
        if found is not None:
            return found
    return None


def _missing(lacking: list[tuple[Image, Layer]]) -> MissingLayersError:
    by_image: dict[str, list[str]] = {}
    for image, layer in lacking:
        who = ", ".join(image.names) or digest.short(image.id, algorithm=True)
        by_image.setdefault(who, []).append(digest.short(layer.diff_id, algorithm=True))
    parts = "; ".join(f"{who} needs {', '.join(ids)}" for who, ids in by_image.items())
    return MissingLayersError(
        f"the delta leaves out layers that neither the store nor the extra sources have ({parts})",
        "load the base image into the store, or name an archive that holds it",
        command="or pass --from ARCHIVE",
    )


def archive_source(images: Iterable[Image], scratch: Path) -> LayerSource:
    """Layers an archive carries, by diff_id, made plain and verified on first use."""
    carried = {x.diff_id: x for image in images for x in image.layers if x.available}
    prepared: dict[str, Layer] = {}

    def lookup(diff_id: str) -> Layer | None:
        if diff_id not in prepared and diff_id in carried:
            prepared[diff_id] = plain(carried[diff_id], scratch)
        return prepared.get(diff_id)

    return lookup


def plain(layer: Layer, scratch: Path, checked: bool = False) -> Layer:
    """The layer as an uncompressed tar named by its diff_id, verified as it is read."""
    if layer.digest == layer.diff_id:  # already the plain tar: only wrap it
        opener = _verifying(layer.open_blob, layer.diff_id, checked)
        return Layer(layer.diff_id, layer.diff_id, layer.size, mediatype.OCI_LAYER, opener)
    return plain_file(layer, scratch, checked)


def plain_file(layer: Layer, scratch: Path, checked: bool = False) -> Layer:
    """The layer as an uncompressed tar in a file of its own in `scratch` (seekable, for
    readers that need one), verified against its diff_id as it is copied there."""
    path = _decompress(layer, scratch, checked)
    size = path.stat().st_size
    return Layer(layer.diff_id, layer.diff_id, size, mediatype.OCI_LAYER, lambda: open(path, "rb"))


def _label(diff_id: str) -> str:
    return f"layer {digest.short(diff_id, algorithm=True)}"


def _decompress(layer: Layer, scratch: Path, checked: bool) -> Path:
    fd, name = tempfile.mkstemp(dir=scratch, prefix="layer-", suffix=".tar")
    path = Path(name)
    try:
        with open(fd, "wb") as out, layer.open_tar() as tar:
            src = CheckedTar(tar, _label(layer.diff_id)) if checked else tar
            reader = digest.HashingReader(src)  # type: ignore[arg-type]
            shutil.copyfileobj(reader, out, 1 << 20)
        digest.check(
            layer.diff_id, reader.digest, f"layer {digest.short(layer.diff_id, algorithm=True)}"
        )
    except (OSError, EOFError) as exc:
        path.unlink(missing_ok=True)
        raise InvalidInputError(
            f"layer {digest.short(layer.diff_id, algorithm=True)} is truncated or corrupt ({exc})",
            "the archive is damaged; save or download it again",
        ) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _verifying(
    opener: Callable[[], BinaryIO], diff_id: str, checked: bool
) -> Callable[[], BinaryIO]:
    def open_verified() -> BinaryIO:
        raw = opener()
        src = CheckedTar(raw, _label(diff_id)) if checked else raw
        return digest.VerifyingReader(src, diff_id, _label(diff_id))  # type: ignore[arg-type,return-value]

    return open_verified
