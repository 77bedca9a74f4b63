"""The test kit: build images in memory, write them anywhere, validate what comes back.

See tests/kit/README.md. Layers: tests.kit.layers; images and archives: tests.kit.image;
random images: tests.kit.random; validators: tests.kit.validate and tests.kit.archives.
"""

from tests.kit.archives import validate_archive, validate_layout, validate_store
from tests.kit.image import FakeImage, docker_archive, oci_archive, oci_layout
from tests.kit.random import images, random_image, random_layers
from tests.kit.validate import Checked, Invalid, validate_image, validate_manifest

__all__ = [
    "Checked",
    "FakeImage",
    "Invalid",
    "docker_archive",
    "images",
    "oci_archive",
    "oci_layout",
    "random_image",
    "random_layers",
    "validate_archive",
    "validate_image",
    "validate_layout",
    "validate_manifest",
    "validate_store",
]
