"""lamina: Docker/OCI image layer stacks without a daemon.

import lamina
store = lamina.open_store("/tmp/store")
lamina.load(store, "app.tar")
lamina.save(store, ["local/app:1"], "out.tar")

The names are lamina.api's (and LaminaError), imported on first use. The package
is typed (py.typed): callers' mypy sees lamina's annotations. `lamina.__version__`
is the installed version.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from lamina.errors import LaminaError as LaminaError

if TYPE_CHECKING:
    from lamina.api.verbs import *  # noqa: F403


def __getattr__(name: str) -> Any:
    if name == "__version__":  # looked up on first use: start-up stays fast
        from importlib.metadata import version

        return version("lamina")
    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule, not a verb
    verbs = importlib.import_module("lamina.api.verbs")

    if name == "__all__":
        return list(verbs.__all__)
    try:
        return getattr(verbs, name)
    except AttributeError:
        raise AttributeError(f"module 'lamina' has no attribute {name!r}") from None
