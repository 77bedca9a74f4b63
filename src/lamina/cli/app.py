"""The `lamina` command: parse, call lamina.api, print. Nothing else lives here.

Exit codes: 0 ok, 1 failure (also: disk full), 2 usage, 3 not found, 4 conflict,
5 invalid input, 6 missing layers, 7 registry, 8 auth, 9 needs root (or permission
denied), 10 Docker Engine; `diff` exits 1 when images differ. Every error is one line
(cli/failure.py).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lamina.cli import failure
from lamina.errors import LaminaError
from lamina.progress import Progress

if TYPE_CHECKING:  # the store is imported by the commands that use it: start-up stays fast
    from lamina.store.local import Store

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Ctx:
    def __init__(self, store_path: str | None, quiet: bool, docker_host: str | None = None) -> None:
        self.store_path = store_path
        self.quiet = quiet
        self.docker_host = docker_host
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            from lamina.store.local import Store

            self._store = Store.open(self.store_path)
        return self._store

    def use_store(self, store: Store) -> None:
        """Work on `store` from here on (a throwaway store filled from a Docker Engine)."""
        self._store = store

    def progress(self) -> Progress:
        return Progress.for_terminal(self.quiet)


pass_ctx = click.make_pass_decorator(Ctx)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


COMPLETING = "_LAMINA_COMPLETE"  # click's completion variable for prog_name lamina

# The module that registers each top-level command: `lamina NAME` imports that module
# alone (and what it imports), so each command's start-up pays only for its own needs;
# listings, --help, completion and the man pages load them all. A new command goes here.
COMMANDS: dict[str, str] = {
    **dict.fromkeys(("images", "image", "tag", "rmi", "history", "inspect", "tree"), "images"),
    "analyze": "analyze",
    **dict.fromkeys(("load", "save"), "archives"),
    **dict.fromkeys(("expand", "inventory", "send", "receive"), "delta"),
    **dict.fromkeys(
        ("create", "run", "cp", "ps", "rm", "container", "commit", "export", "import"),
        "containers",
    ),
    "demo": "demo",
    **dict.fromkeys(("push", "pull", "login", "logout"), "registry"),
    **dict.fromkeys(("squash", "flatten", "rebase", "diff"), "squash"),
    **dict.fromkeys(("ls", "digest", "manifest", "config", "copy"), "storeless"),
    "system": "system",
}
MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def load_commands(*names: str) -> None:
    """Import the modules that register the commands `names`: all of them when none is
    named, or one is not in COMMANDS (a typo, then click says so; a command the table
    forgot still runs, and tests/core/test_cli_startup.py fails until it is added)."""
    known = names and all(n in COMMANDS for n in names)
    modules = {COMMANDS[n] for n in names} if known else MODULES
    for module in modules:
        importlib.import_module(f"lamina.cli.{module}")
    attach_examples()
    if COMPLETING in os.environ:  # TAB: image and container names complete from the store
        from lamina.cli import complete

        complete.attach(cli)


def attach_examples() -> None:
    """Every loaded command's --help ends with its examples (lamina.cli.examples)."""
    from lamina.cli import examples

    examples.attach(cli)


class LazyGroup(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        load_commands(cmd_name)  # (again, if imported by hand: examples still attached)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return super().list_commands(ctx)


class VerbGroup(click.Group):
    """`image` and `container`: their own commands plus top-level verbs under Docker's
    sub-verb names (`image ls` is `images`, `container rm` is `rm`): the same command
    objects, not copies."""

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.aliases = aliases or {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.aliases.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        return cli.get_command(ctx, target)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return sorted({*super().list_commands(ctx), *self.aliases})


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.option(
    "--store",
    "store_path",
    envvar="LAMINA_STORE",
    metavar="DIR",
    help="Store directory (default $LAMINA_STORE, else ~/.local/share/lamina).",
)
@click.option(
    "--docker-host",
    metavar="HOST",
    help="Docker Engine for docker-daemon:NAME (default $DOCKER_HOST, else the docker context).",
)
@click.option(
    "--no-progress", is_flag=True, help="No progress bars (they only show on a terminal anyway)."
)
@click.option("-q", "--quiet", "old_quiet", is_flag=True, hidden=True)  # before --no-progress
@click.version_option(package_name="lamina")
@click.pass_context
def cli(
    ctx: click.Context,
    store_path: str | None,
    docker_host: str | None,
    no_progress: bool,
    old_quiet: bool,
) -> None:
    """lamina: Docker/OCI image layer stacks without a daemon.

    \b
    Images:      load, save, images, tag, rmi, image prune, history, inspect, tree
    Containers:  create, run, cp, commit, export, import, ps, rm, container prune
    Delta:       save --exclude/--exclude-base/--have, inventory, expand, send, receive
                 (changed layers as patches against the older version; --no-patches)
    Reshape:     analyze, squash, flatten, rebase, diff
    Registries:  push, pull, login, logout
    No store:    ls (a registry's tags), digest, manifest, config, copy SRC DST
    Docker:      docker-daemon:NAME in load, save, send, squash, flatten, rebase;
                 send --to-docker [HOST]; inventory --docker
    Store:       system check [--repair]
    Walkthrough: demo

    The store is an OCI image layout (skopeo copy oci:STORE:NAME ... reads it).

    \b
    Examples:
      lamina load -i app.tar
      lamina save --exclude-base -o delta.tar local/app:3
      lamina squash local/app:3 -t local/app:squashed
      lamina images -a
      lamina send docker-daemon:app:3 --to-docker ssh://bob@host   # only what Bob lacks
      lamina squash docker-daemon:app:3                            # in Docker, base kept

    As in Docker, -q belongs to listings (images -q, ps -q: IDs only); progress
    bars show only when stderr is a terminal, and --no-progress turns them off
    (the old global -q/--quiet still works and means the same).

    \b
    Exit codes: 0 ok, 1 failure (diff: images differ; disk full), 2 usage, 3 not found,
    4 conflict, 5 invalid input, 6 missing layers, 7 registry, 8 auth, 9 needs root,
    10 Docker Engine unreachable or refused.
    """
    ctx.obj = Ctx(store_path, no_progress or old_quiet, docker_host)


def echo_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    # SIGTERM unwinds as Ctrl-C does, so temp files and locks are cleaned up on the way out
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    try:
        # without standalone mode click returns ctx.exit()'s code instead of exiting
        code = cli.main(args=argv, prog_name="lamina", standalone_mode=False)
    except LaminaError as exc:
        click.echo(f"lamina: error: {exc.one_line(cli=True)}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("lamina: aborted", err=True)
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:  # the one boundary: one line, an exit code (cli/failure.py)
        line, exit_code = failure.describe(exc)
        click.echo(failure.debug_traceback(exc) + f"lamina: error: {line}", err=True)
        return exit_code
    return code if isinstance(code, int) else 0
