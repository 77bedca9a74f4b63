"""Every public name of lamina.api, gathered (lamina.api imports this on first use)."""

import sys

from lamina.api import copying as copying  # copy SRC DST, no store

# delta save, expand, send, receive; a Docker Engine as a source and destination
from lamina.api import delta, docker, docker_reshape, transfer  # noqa: F401
from lamina.api import registry as registry  # push, pull, login, logout
from lamina.api import storeless as storeless  # ls, digest, manifest, config: no store
from lamina.api import system as system  # system check
from lamina.api.analyze import Report, analyze, analyze_archive
from lamina.api.archive_squash import squash_archive
from lamina.api.copying import Copied, copy
from lamina.api.delta import Expanded, Saved, expand, inventory, save_delta
from lamina.api.images import (
    Loaded,
    history,
    image_prune,
    images,
    inspect,
    load,
    rmi,
    tag,
    tree,
)
from lamina.api.lifecycle import *  # noqa: F403  (containers: create, run, cp, commit, ...)
from lamina.api.lifecycle import __all__ as _lifecycle
from lamina.api.lookup import get_image, graph, open_store
from lamina.api.push import Pushed, push
from lamina.api.registry import Pulled, login, logout, pull
from lamina.api.save import SAVE_FORMATS, images_for, save
from lamina.api.squash import Reshaped, diff, flatten, rebase, squash
from lamina.api.storeless import list_tags, remote_config, remote_digest, remote_manifest
from lamina.api.system import check as system_check
from lamina.api.transfer import Received, Sent, receive, send
from lamina.errors import (  # the error tree: every failure is one of these
    AuthError,
    CheckFailedError,
    CommandFailedError,
    ConflictError,
    DaemonError,
    DigestMismatchError,
    InvalidInputError,
    LaminaError,
    MissingLayersError,
    NotFoundError,
    PatchError,
    PatchReferenceError,
    PermissionRequiredError,
    ProtocolError,
    ReceiverError,
    RegistryError,
    UnsafePathError,
    UsageError,
)
from lamina.progress import Progress
from lamina.spec import Platform
from lamina.store.inventory import Inventory
from lamina.store.local import Store, StoredImage

__all__ = [
    "SAVE_FORMATS",
    "Copied",
    "Expanded",
    "Inventory",
    "Loaded",
    "Platform",
    "Progress",
    "Pulled",
    "Pushed",
    "Received",
    "Report",
    "Reshaped",
    "Saved",
    "Sent",
    "Store",
    "StoredImage",
    "analyze",
    "analyze_archive",
    "copy",
    "diff",
    "expand",
    "flatten",
    "get_image",
    "graph",
    "history",
    "image_prune",
    "images",
    "images_for",
    "inspect",
    "inventory",
    "list_tags",
    "load",
    "login",
    "logout",
    "open_store",
    "pull",
    "push",
    "rebase",
    "receive",
    "remote_config",
    "remote_digest",
    "remote_manifest",
    "rmi",
    "save",
    "save_delta",
    "send",
    "squash",
    "squash_archive",
    "system_check",
    "tag",
    "tree",
]
__all__ += _lifecycle
__all__ += [
    "AuthError",
    "CheckFailedError",
    "CommandFailedError",
    "ConflictError",
    "DaemonError",
    "DigestMismatchError",
    "InvalidInputError",
    "LaminaError",
    "MissingLayersError",
    "NotFoundError",
    "PatchError",
    "PatchReferenceError",
    "PermissionRequiredError",
    "ProtocolError",
    "ReceiverError",
    "RegistryError",
    "UnsafePathError",
    "UsageError",
]

# lamina.api imports this module on first use; its names then stand on the package
# itself, as when lamina.api imported them eagerly (the function `images` over the
# submodule of the same name).
_package = sys.modules["lamina.api"]
for _name in __all__:
    setattr(_package, _name, globals()[_name])
