"""Help outside --help: shell completion of image and container names, and man pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import lamina
from lamina.cli import cli, load_commands
from lamina.store.local import Store
from tests.builders import docker_archive, stack

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("completion")
    s = Store.open(work / "store")
    lamina.load(s, str(docker_archive(stack(3), work / "a.tar")))
    lamina.create(s, "local/stack:1", ["sh"], name="box")
    return s.root


def complete(*words: str, store: Path | None = None) -> list[str]:
    """What bash completion offers for the last word (click's bash_complete protocol)."""
    line = ["lamina", *(["--store", str(store)] if store else []), *words]
    env = {
        **os.environ,
        "_LAMINA_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(line),
        "COMP_CWORD": str(len(line) - 1),
    }
    cp = subprocess.run(
        [sys.executable, "-m", "lamina"], env=env, capture_output=True, text=True, check=True
    )
    return [row.split(",", 1)[1] for row in cp.stdout.splitlines() if row.startswith("plain,")]


def test_image_names_complete(store):
    assert complete("rmi", "local/st", store=store) == ["local/stack:1", "local/stack:2"]
    assert "local/base:1" in complete("squash", "", store=store)
    assert complete("history", "nothing", store=store) == []


def test_container_names_complete(store):
    assert complete("rm", "b", store=store) == ["box"]
    assert complete("cp", "b", store=store) == ["box:"]  # cp's CONTAINER:PATH


def test_tab_never_makes_a_store(tmp_path):
    missing = tmp_path / "no-store"
    assert complete("rmi", "", store=missing) == []
    assert not missing.exists()


def test_every_image_and_container_argument_completes(monkeypatch):
    monkeypatch.setenv("_LAMINA_COMPLETE", "bash_complete")
    load_commands()
    from lamina.cli.complete import Completing

    def arguments(command: click.Command, path: str) -> list[tuple[str, click.Argument]]:
        found = [(path, p) for p in command.params if isinstance(p, click.Argument)]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += arguments(sub, f"{path} {name}")
        return found

    meant = [
        (path, p)
        for path, p in arguments(cli, "lamina")
        if (p.metavar or p.name or "").upper().rstrip(".") in {"IMAGE", "IMAGES", "CONTAINER"}
    ]
    assert len(meant) > 10
    assert not [f"{path} {p.name}" for path, p in meant if not isinstance(p.type, Completing)]


def test_the_man_pages_match_the_help():
    cp = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "manpages.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert cp.returncode == 0, cp.stderr
    save = (ROOT / "docs" / "man" / "lamina-save.1").read_text()
    assert save.startswith('.TH "LAMINA-SAVE" "1"')
    assert "\\fB-o, --output FILE\\fR" in save and "--exclude-base" in save
