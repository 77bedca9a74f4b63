"""lamina: Docker/OCI image layer stacks without a daemon.

import lamina
store = lamina.open_store("/tmp/store")
lamina.load(store, "app.tar")
lamina.save(store, ["local/app:1"], "out.tar")
"""

from lamina.api import *  # noqa: F403
from lamina.api import __all__ as _api_all
from lamina.errors import LaminaError

__all__ = [*_api_all, "LaminaError"]
