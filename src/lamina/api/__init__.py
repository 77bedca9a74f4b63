"""lamina's verbs as plain functions: what the CLI calls, and what `import lamina` offers.

Each verb composes the store, the transports and the operations; none of them
prints. Errors are LaminaError subclasses with a one-line message and an exit code.
"""

from lamina.api import registry as registry  # push, pull, login, logout
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
from lamina.store.local import Store, StoredImage

__all__ = [
    "SAVE_FORMATS",
    "Loaded",
    "Store",
    "StoredImage",
    "get_image",
    "graph",
    "history",
    "image_prune",
    "images",
    "images_for",
    "inspect",
    "load",
    "open_store",
    "rmi",
    "save",
    "tag",
    "tree",
]
