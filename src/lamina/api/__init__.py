"""lamina's verbs as plain functions: what the CLI calls, and what `import lamina` offers.

Each verb composes the store, the transports and the operations; none of them
prints. Errors are LaminaError subclasses with a one-line message and an exit code.

The names live in lamina.api.verbs and are imported on first use, so that the CLI,
which imports only the module of the command it runs, starts fast.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamina.api.verbs import *  # noqa: F403


_VERBS_NAMED_LIKE_MODULES = ("analyze", "images", "save", "squash")  # the verbs, as ever


def __getattr__(name: str) -> Any:
    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    if name not in _VERBS_NAMED_LIKE_MODULES and importlib.util.find_spec(f"{__name__}.{name}"):
        return importlib.import_module(f"{__name__}.{name}")  # a submodule, not a verb
    verbs = importlib.import_module("lamina.api.verbs")

    try:
        return getattr(verbs, name)
    except AttributeError:
        raise AttributeError(f"module 'lamina.api' has no attribute {name!r}") from None
