"""lamina's verbs as plain functions: what the CLI calls, and what `import lamina` offers.

Each verb composes the store, the transports and the operations; none of them
prints. Errors are LaminaError subclasses with a one-line message and an exit code.

The names live in lamina.api.verbs and are imported on first use, so that the CLI,
which imports only the module of the command it runs, starts fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamina.api.verbs import *  # noqa: F403


_VERBS_NAMED_LIKE_MODULES = ("analyze", "images", "save", "squash")  # the verbs, as ever


class _Package(types.ModuleType):
    """lamina.api itself. Importing a submodule named like a verb (`lamina.api.squash`,
    as the CLI's squash does, for just what it needs) does not bind the module over the
    verb: `lamina.api.squash` stays the function, whatever was imported first."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _VERBS_NAMED_LIKE_MODULES and isinstance(value, types.ModuleType):
            return  # the submodule is in sys.modules; the name is looked up as a verb
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
