"""lamina's verbs as plain functions: what the CLI calls, and what `import lamina` offers.

Each verb composes the store, the transports and the operations; none of them
prints. Errors are LaminaError subclasses with a one-line message and an exit code.
"""

# delta save, expand, send, receive; a Docker Engine as a source and destination
from lamina.api import delta, docker, docker_reshape, transfer  # noqa: F401
from lamina.api import registry as registry  # push, pull, login, logout
from lamina.api import system as system  # system check
from lamina.api.analyze import Report, analyze, analyze_archive
from lamina.api.base import get_image, graph, open_store
from lamina.api.images import (
    SAVE_FORMATS,
    Loaded,
    history,
    image_prune,
    images,
    images_for,
    inspect,
    load,
    rmi,
    save,
    tag,
    tree,
)
from lamina.api.lifecycle import *  # noqa: F403  (containers: create, run, cp, commit, ...)
from lamina.api.lifecycle import __all__ as _lifecycle
from lamina.api.squash import Reshaped, diff, flatten, rebase, squash, squash_archive
from lamina.store.local import Store, StoredImage

__all__ = [
    "SAVE_FORMATS",
    "Loaded",
    "Report",
    "Reshaped",
    "Store",
    "StoredImage",
    "analyze",
    "analyze_archive",
    "diff",
    "flatten",
    "get_image",
    "graph",
    "history",
    "image_prune",
    "images",
    "images_for",
    "inspect",
    "load",
    "open_store",
    "rebase",
    "rmi",
    "save",
    "squash",
    "squash_archive",
    "tag",
    "tree",
]
__all__ += _lifecycle
