"""Every command's --help shows examples, and every listing and every command a script
reads takes --json whose output parses. The tree of commands is walked generically (groups
and sub-verbs included), so a command added later is checked without touching this file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from lamina.cli.app import cli, load_commands
from tests.builders import layer_tar, stack
from tests.kit.image import docker_archive
from tests.lamina_cli import run_lamina


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _walk(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


load_commands()
ALL = list(_walk(cli))
# listings, and the commands the issue asked --json of (push needs a registry: see below)
WITH_JSON = {
    "images", "ps", "history", "tree", "inventory", "system check",
    "pull", "push", "commit", "import", "tag", "rmi",
}  # fmt: skip
LISTING_NAMES = {"ls", "df", "images", "ps", "history", "tree", "inventory"}


def test_the_tree_is_walked_whole():
    names = {" ".join(p) for p in ALL}
    assert {"images", "image prune", "container prune", "system check", "cp"} <= names
    assert len(names) > 35


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "lamina" for p in ALL])
def test_every_command_help_has_examples(path):
    help_text = run_lamina(Path("/nonexistent-store"), *path, "--help").stdout.decode()
    assert "Examples:" in help_text
    after = help_text.split("Examples:", 1)[1].splitlines()
    assert any(line.strip().startswith("lamina ") or "| lamina" in line for line in after[:8])


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "lamina" for p in ALL])
def test_listings_and_script_facing_commands_take_json(path):
    name = " ".join(path)
    if name in WITH_JSON or (path and path[-1] in LISTING_NAMES):
        assert "--json" in [o for p in _command(path).params for o in p.opts], name


@pytest.fixture
def store(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    archive = docker_archive(stack(3), tmp_path / "stack.tar")
    assert run_lamina(store, "load", "-i", str(archive)).returncode == 0
    tar = tmp_path / "root.tar"
    tar.write_bytes(layer_tar({"hello": b"hi\n"}))
    assert run_lamina(store, "import", str(tar), "local/flat:1").returncode == 0
    assert run_lamina(store, "create", "--name", "box", "local/base:1", "true").returncode == 0
    return store


def _json(store: Path, *args: str) -> object:
    done = run_lamina(store, *args)
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout)


def test_every_listing_prints_json_that_parses(store):
    # `lamina ls` lists a registry's tags, not the store (tests/registry covers it)
    listings = [p for p in ALL if p and p[-1] in LISTING_NAMES and p != ("ls",)]
    assert len(listings) >= 5
    for path in listings:
        extra = ("local/stack:2",) if path[-1] == "history" else ()
        _json(store, *path, "--json", *extra)
    assert isinstance(_json(store, "system", "check", "--json"), (dict, list))


def test_script_facing_commands_print_json_with_stable_keys(store, tmp_path):
    tagged = _json(store, "tag", "--json", "local/stack:2", "local/again:1")
    assert set(tagged) == {"Source", "Tag", "Id"} and tagged["Tag"] == "local/again:1"
    made = _json(store, "commit", "--json", "box", "local/boxed:1")
    assert set(made) == {"Id", "Tag"} and made["Tag"] == "local/boxed:1"
    tar = tmp_path / "more.tar"
    tar.write_bytes(layer_tar({"more": b"x\n"}))
    imported = _json(store, "import", "--json", str(tar))
    assert imported["Tag"] is None and imported["Id"].startswith("sha256:")
    removed = _json(store, "rmi", "--json", "local/again:1", "local/boxed:1")
    assert removed[0] == {"Untagged": "local/again:1"}
    assert {"Deleted": made["Id"]} in removed
    inventory = _json(store, "inventory", "--json")
    assert isinstance(inventory, dict) and inventory["kind"] == "lamina-inventory"


def test_push_and_pull_json(store, tmp_path, registry):
    ref = f"{registry.host}/habits/json:1"
    pushed = _json(store, "push", "--json", "local/stack:2", ref)
    assert {"Reference", "Digest", "Size", "RepoDigest"} <= set(pushed)
    pulled = _json(tmp_path / "other", "pull", "--json", ref)
    assert set(pulled) == {"Reference", "Tag", "Id", "Digest", "NewLayers", "UpToDate", "Replaced"}
    assert pulled["Digest"] == pushed["Digest"] and pulled["NewLayers"] == 3
