"""Shell completion of image and container names (click does commands and options).

    eval "$(_LAMINA_COMPLETE=bash_source lamina)"     # bash (~/.bashrc)
    eval "$(_LAMINA_COMPLETE=zsh_source lamina)"      # zsh (~/.zshrc)
    _LAMINA_COMPLETE=fish_source lamina | source      # fish

Arguments are matched by what they hold, so every command gets the same completion
without each declaring it: IMAGE-like arguments complete the store's names, CONTAINER
ones its containers' names, and `cp`'s SRC/DST `CONTAINER:` prefixes. A store that does
not exist yet is never created by pressing TAB; any failure completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from lamina.store.local import Store

IMAGE_ARGS = {"image", "images", "first", "second", "pattern"}
CONTAINER_ARGS = {"container_ref", "containers", "container"}
PATH_ARGS = {"src", "dst"}  # docker cp's CONTAINER:PATH or a local path

Names = Callable[[click.Context], list[str]]


def _store(ctx: click.Context) -> Store | None:
    from lamina.store.local import Store, default_path

    given = ctx.find_root().params.get("store_path")
    root = Path(given) if given else default_path()
    if not (root / "index.json").is_file():
        return None  # TAB never makes a store
    return Store.open(root)


def image_names(ctx: click.Context) -> list[str]:
    store = _store(ctx)
    if store is None:
        return []
    return sorted({n for _, names in store.roots() for n in names})


def container_names(ctx: click.Context) -> list[str]:
    store = _store(ctx)
    if store is None:
        return []
    from lamina.containers.records import Containers

    return sorted(c.name for c in Containers(store).all())


class Completing(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 on
    """A plain string that completes from the store (`names`), with an optional suffix."""

    name = "text"

    def __init__(self, names: Names, suffix: str = "", files: bool = False) -> None:
        self.names, self.suffix, self.files = names, suffix, files

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        if self.files and ":" not in incomplete and incomplete.startswith((".", "/", "~")):
            return [CompletionItem(incomplete, type="file")]
        try:
            found = [n + self.suffix for n in self.names(ctx)]
        except Exception:  # completion must never print a traceback into the shell
            return []
        items = [CompletionItem(n) for n in found if n.startswith(incomplete)]
        if self.files:
            items.append(CompletionItem(incomplete, type="file"))
        return items


def _completion_for(param: click.Parameter) -> Completing | None:
    if not isinstance(param, click.Argument) or param.type is not click.STRING:
        return None
    name = param.name or ""
    if name in IMAGE_ARGS or (name in {"ref", "source"} and param.metavar in (None, "IMAGE")):
        return Completing(image_names)
    if name in CONTAINER_ARGS:
        return Completing(container_names)
    if name == "objects":  # inspect: a container or an image
        return Completing(lambda ctx: container_names(ctx) + image_names(ctx))
    if name in PATH_ARGS:
        return Completing(container_names, suffix=":", files=True)
    return None


def attach(command: click.Command) -> None:
    """Give every image, container and cp argument under `command` its completion."""
    for param in command.params:
        found = _completion_for(param)
        if found is not None:
            param.type = found
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach(sub)
