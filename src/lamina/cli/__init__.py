"""The `lamina` command. Each module registers its commands on the one group."""

from lamina.cli import analyze as _analyze  # noqa: F401  (analyze)
from lamina.cli import containers as _containers  # noqa: F401  (create, run, ..., demo)
from lamina.cli import delta as _delta  # noqa: F401  (inventory, expand, send, receive)
from lamina.cli import images  # noqa: F401  (registers commands)
from lamina.cli import registry as _registry  # noqa: F401  (push, pull, login, logout)
from lamina.cli import squash as _squash  # noqa: F401  (squash, flatten, rebase, diff)
from lamina.cli import system as _system  # noqa: F401  (system check)
from lamina.cli.app import cli, main

__all__ = ["cli", "main"]
