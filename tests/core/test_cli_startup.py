"""The CLI imports only the module of the command that runs (cli/app.py COMMANDS):
the table names, for every command, the module that registers it; `squash` on a store
imports neither the Docker Engine's client, the other commands nor every verb; and
lamina.api's verbs stay functions whichever of its submodules was imported first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from lamina.cli.app import COMMANDS, MODULES, cli, load_commands
from tests.builders import stack
from tests.kit.image import docker_archive
from tests.lamina_cli import run_lamina

# what `lamina ARGS` imported, written as JSON to the file named by argv[1]
PROBE = """
import json, sys
from lamina.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump(sorted(m for m in sys.modules if m.startswith("lamina")), f)
sys.exit(code)
"""

NOT_FOR_SQUASH = (
    "lamina.api.verbs",
    "lamina.cli.docker",
    "lamina.api.docker",
    "lamina.transports.docker_engine.client",
    "lamina.transports.registry.client",
    "lamina.api.archive_squash",
    "lamina.transports.archive_writer",
)


def _imported(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    cp = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args], capture_output=True, check=False
    )
    assert cp.returncode == 0, cp.stderr.decode()
    return set(json.loads(out.read_text()))


def test_every_command_is_in_the_table_under_the_module_that_registers_it():
    load_commands()
    assert set(cli.commands) == set(COMMANDS)
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"lamina.cli.{COMMANDS[name]}", name
    assert set(MODULES) == set(COMMANDS.values())


def test_squash_imports_its_own_module_only(tmp_path):
    archive = docker_archive(stack(3), tmp_path / "stack.tar")
    store = tmp_path / "store"
    assert run_lamina(store, "load", "-i", str(archive)).returncode == 0
    args = ("--store", str(store), "squash", "local/stack:2", "--layers", "1..-1", "-t", "sq")
    modules = _imported(tmp_path, *args)
    assert "lamina.cli.squash" in modules and "lamina.ops.squash" in modules  # it did run
    assert not modules & set(NOT_FOR_SQUASH)
    others = {f"lamina.cli.{m}" for m in MODULES} - {"lamina.cli.squash"}
    assert not modules & others
    assert run_lamina(store, "images", "-q", "sq").stdout.strip()  # and made the image


def test_help_listing_and_an_unknown_command_still_see_every_command(tmp_path):
    top = run_lamina(tmp_path / "s", "--help")
    assert top.returncode == 0
    listed = top.stdout.decode().split("Commands:")[1]
    for name, command in cli.commands.items():
        if not command.hidden:
            assert f"  {name} " in listed, name
    unknown = run_lamina(tmp_path / "s", "squahs")
    assert unknown.returncode == 2 and b"No such command 'squahs'" in unknown.stderr
    image_ls = run_lamina(tmp_path / "s", "image", "ls")  # a sub-verb naming another module
    assert image_ls.returncode == 0 and image_ls.stdout.startswith(b"REPOSITORY")


def test_a_verb_named_like_its_module_stays_the_verb():
    code = (
        "import lamina.api.squash, lamina.api.images\n"
        "import lamina.api as api, lamina\n"
        "assert callable(api.squash) and callable(api.images), (api.squash, api.images)\n"
        "assert lamina.squash is api.squash\n"
        "from lamina.api.squash import Reshaped\n"
    )
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert cp.returncode == 0, cp.stderr.decode()


def test_a_command_imported_by_hand_gets_its_examples_when_it_runs():
    from lamina.cli import squash  # noqa: F401  (registers squash before any lookup)

    ctx = click.Context(cli)
    command = cli.get_command(ctx, "squash")
    assert command is not None and "Examples:" in (command.help or "")


def test_a_command_the_table_forgot_still_runs():
    code = (
        "import sys\n"
        "from lamina.cli.app import COMMANDS, main\n"
        "del COMMANDS['diff']\n"
        "sys.exit(main(['diff', '--help']))\n"
    )
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert cp.returncode == 0, cp.stderr.decode()
    assert b"Compare the final filesystems" in cp.stdout
