"""Media types lamina reads and writes, and what each one means."""

from __future__ import annotations

from lamina.errors import InvalidInputError

OCI_LAYOUT_VERSION = "1.0.0"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})

# layer media type -> compression name ("" for none)
_LAYER_COMPRESSION = {
    OCI_LAYER: "",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST: "",
    OCI_LAYER_NONDIST_GZIP: "gzip",
    OCI_LAYER_NONDIST_ZSTD: "zstd",
    DOCKER_LAYER: "",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_FOREIGN_GZIP: "gzip",
}

_OCI_LAYER_FOR = {"": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
_DOCKER_LAYER_FOR = {"": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP}


def is_layer(media_type: str) -> bool:
    return media_type in _LAYER_COMPRESSION


def layer_compression(media_type: str) -> str:
    """The compression a layer media type declares: "", "gzip" or "zstd"."""
    try:
        return _LAYER_COMPRESSION[media_type]
    except KeyError:
        raise InvalidInputError(
            f"unknown layer media type {media_type!r}",
            "lamina reads OCI and Docker tar layers (plain, gzip, zstd)",
        ) from None


def layer_type(compression: str, docker: bool = False) -> str:
    """The layer media type for a compression in the OCI or Docker family."""
    table = _DOCKER_LAYER_FOR if docker else _OCI_LAYER_FOR
    try:
        return table[compression]
    except KeyError:
        family = "Docker" if docker else "OCI"
        raise InvalidInputError(
            f"{family} manifests have no layer type for {compression}"
        ) from None


def check_manifest(media_type: str) -> None:
    if media_type not in MANIFESTS:
        raise InvalidInputError(
            f"unknown manifest media type {media_type!r}",
            "lamina reads OCI image manifests and Docker v2 schema 2 manifests",
        )


def check_config(media_type: str) -> None:
    if media_type not in CONFIGS:
        raise InvalidInputError(
            f"unknown config media type {media_type!r}",
            "lamina reads OCI and Docker image configs",
        )
