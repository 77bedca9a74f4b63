"""Image and Layer values.

An Image is a frozen value: the raw config bytes (its ID is their digest), the
layers in order, and the names it came with. Layers can be opened as streams;
nothing is read until someone asks. An image can be built in memory from any
layers (`Image(config, layers)`): a value says what the image IS, not where it is.

Operations take images and return new images (go-containerregistry's `mutate`
style); the only blobs they write are the new LAYERS they make, into a LayerSink
they are given. Writing an image somewhere is a separate step: a store transaction's
`put_image` (layers, config, manifest, in that order) or an archive writer. A Layer
opened from a transaction keeps opening after the transaction commits (it then
reads the store's blob).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from lamina import digest, mediatype
from lamina.errors import InvalidInputError
from lamina.layer import compression
from lamina.spec import Config, Descriptor, HistoryEntry, Manifest

if TYPE_CHECKING:
    from lamina.layer.indexfile import Building

Opener = Callable[[], BinaryIO]


@dataclass(frozen=True)
class Spool:
    """A file lamina owns, on the store's filesystem, holding exactly a blob's bytes (an
    archive read from a pipe is spooled so: transports/spool.py), and their sha256,
    computed as they were written. A loader may move it into the store, not copy it."""

    path: Path
    digest: str


@dataclass(frozen=True)
class Layer:
    """One layer: what identifies it (diff_id) and how its bytes travel (digest, media type)."""

    diff_id: str
    digest: str
    size: int
    media_type: str
    open_blob: Opener = field(compare=False, repr=False)
    # False for a layer a delta archive lists but does not carry
    available: bool = True
    spool: Spool | None = field(default=None, compare=False, repr=False)

    @property
    def compression(self) -> str:
        return mediatype.layer_compression(self.media_type)

    @contextmanager
    def open_tar(self) -> Iterator[BinaryIO]:
        """The uncompressed tar stream (compression sniffed, whatever the media type says)."""
        blob = self.open_blob()
        try:
            _, stream = compression.auto_decompressed(blob)
            yield stream
        finally:
            blob.close()

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)


@dataclass(frozen=True)
class LayerPatch:
    """A layer that travels as a patch against a reference layer the recipient holds
    (layer/patch.py makes and applies it; docs/design.md §6 says how it travels).
    Applying it to the reference must give bytes whose sha256 is `diff_id`."""

    diff_id: str  # the layer it rebuilds
    size: int  # of the rebuilt layer
    reference: str  # diff_id of the layer it applies to
    digest: str  # sha256 of the patch's own bytes
    patch_size: int
    open_patch: Opener = field(compare=False, repr=False)
    reference_image: str = ""  # a name of an image holding the reference, for messages


@dataclass(frozen=True)
class Image:
    config: Config
    layers: tuple[Layer, ...]
    names: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.config.id

    @cached_property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(layer.diff_id for layer in self.layers)

    @cached_property
    def chain_ids(self) -> tuple[str, ...]:
        return tuple(digest.chain_ids(self.diff_ids))

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        return self.config.history

    def config_descriptor(self) -> Descriptor:
        return Descriptor(mediatype.OCI_CONFIG, self.id, len(self.config.raw))

    def manifest_bytes(self) -> bytes:
        """The OCI manifest of this image as lamina writes it (deterministic)."""
        layers = [layer.descriptor() for layer in self.layers]
        return Manifest.build(self.config_descriptor(), layers, self.annotations)

    def with_names(self, names: Sequence[str]) -> Image:
        return replace(self, names=tuple(names))

    def check_consistent(self) -> None:
        """Config diff_ids and layers must agree, or the image cannot be rebuilt anywhere."""
        if self.config.diff_ids != self.diff_ids:
            raise InvalidInputError(
                f"image {digest.short(self.id, algorithm=True)} lists {len(self.config.diff_ids)} "
                "layers in its config "
                f"but carries {len(self.layers)} that do not match them",
                "the archive or manifest is corrupt",
            )


class BlobSink(Protocol):
    """Where blobs are written: a store transaction, or a bare blob directory (cas.BlobDir)."""

    def has_blob(self, dig: str) -> bool: ...

    def put_blob(self, stream: BinaryIO, expected: str | None = None) -> tuple[str, int]: ...

    def put_bytes(self, data: bytes) -> str: ...


@runtime_checkable
class LayerSink(BlobSink, Protocol):
    """A sink that new layers can be written into directly (no second copy): what an
    operation that makes a layer (squash) is given."""

    def staging_file(self) -> Path:
        """A new empty file on the sink's filesystem, to write a blob into."""
        ...

    def adopt(self, tmp: Path, dig: str, index: Building | None = None) -> None:
        """Take a file written via staging_file(), whose sha256 is `dig`; `index` is its
        header index when the writer made one as it wrote (a cache the sink may keep)."""
        ...

    def blob_size(self, dig: str) -> int: ...

    def open_blob(self, dig: str) -> BinaryIO: ...


@dataclass(frozen=True)
class Artifact:
    """A manifest that refers to an image (signature, attestation, SBOM), kept byte-exact.

    `subject` is the digest of the manifest (or index) it refers to; `tag` is its
    cosign-style tag ("sha256-HEX.sig") or "" for an OCI 1.1 referrer (its manifest
    has `subject`) or an attestation entry of a received index; `blobs` are the
    config and layers its manifest names.
    """

    digest: str
    media_type: str
    size: int
    subject: str
    tag: str = ""
    blobs: tuple[Descriptor, ...] = ()
    artifact_type: str = ""
