"""Sub-layer patches: rebuild a layer tar byte for byte from an older layer and a patch.

`encode_patch(reference, target, out)` writes a patch; `apply_patch(reference, patch,
out)` writes the target tar back (its diff_id checked); `read_patch_header(patch)` says
which reference a patch needs without reading further. Openers return a fresh stream of
an uncompressed layer tar each time they are called; a seekable one (a file) is read in
place, a pipe is spooled to a temporary file. The format is in `format.py`, its design
in docs/design.md ("Layer patches").
"""

from __future__ import annotations

from typing import BinaryIO

from lamina.layer.patch.decode import apply_patch
from lamina.layer.patch.encode import PatchStats, encode_patch
from lamina.layer.patch.format import VERSION, VERSIONS, PatchHeader, read_header
from lamina.layer.patch.scan import Opener

__all__ = [
    "VERSION",
    "VERSIONS",
    "Opener",
    "PatchHeader",
    "PatchStats",
    "apply_patch",
    "encode_patch",
    "read_patch_header",
]


def read_patch_header(patch: BinaryIO) -> PatchHeader:
    """The header of a patch (which reference it needs, what it rebuilds); the stream is
    left just after it, where `apply_patch` would go on reading."""
    return read_header(patch)
