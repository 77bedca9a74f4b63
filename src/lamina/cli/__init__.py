"""The `lamina` command. Each module registers its commands on the one group, and
lamina.cli.app imports a module when one of its commands runs (see LazyGroup)."""

from lamina.cli.app import cli, load_commands, main

__all__ = ["cli", "load_commands", "main"]
