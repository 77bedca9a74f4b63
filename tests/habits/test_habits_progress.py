"""Progress shows on a terminal for the long verbs (create, run, export, import, diff,
flatten, squash -i/-o) and never as "0/? bytes"; piped, nothing is drawn."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.builders import layer_tar, stack
from tests.kit.image import docker_archive
from tests.lamina_cli import run_lamina

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def _stderr_on_a_terminal(store: Path, *args: str) -> tuple[int, str]:
    """`lamina ARGS` with stderr on a pseudo-terminal; its exit code and what it drew."""
    leader, follower = pty.openpty()
    drawn = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lamina", "--store", str(store), *args],
            stdout=subprocess.PIPE,
            stderr=follower,
            stdin=subprocess.DEVNULL,
            timeout=300,
            env={**os.environ, "COLUMNS": "250"},
        )
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    return done.returncode, ANSI.sub(b"", bytes(drawn)).decode(errors="replace")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    archive = docker_archive(stack(3), tmp_path / "stack.tar")
    assert run_lamina(store, "load", "-i", str(archive)).returncode == 0
    assert run_lamina(store, "create", "--name", "box", "local/stack:2", "true").returncode == 0
    return store


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("create", "local/stack:2", "true"), "Creating the container's files"),
        (("export", "-o", "{tmp}/box.tar", "box"), "Exporting box"),
        (("import", "{tmp}/root.tar", "local/imp:1"), "Importing {tmp}/root.tar"),
        (("diff", "local/stack:1", "local/stack:2"), "Comparing local/stack:1 with local/stack:2"),
        (("flatten", "local/stack:2"), "Squashing layers 0..2"),
        (
            (
                "squash",
                "-i",
                "{tmp}/stack.tar",
                "-o",
                "{tmp}/sq.tar",
                "local/stack:2",
                "--layers",
                "0..-1",
            ),
            "Squashing local/stack:2 of {tmp}/stack.tar",
        ),
    ],
    ids=["create", "export", "import", "diff", "flatten", "squash-i-o"],
)
def test_long_verbs_show_progress_on_a_terminal(store, tmp_path, args, shown):
    (tmp_path / "root.tar").write_bytes(layer_tar({"hello": b"hi\n" * 1000}))
    args = tuple(a.format(tmp=tmp_path) for a in args)
    code, drawn = _stderr_on_a_terminal(store, *args)
    assert code in (0, 1), drawn  # diff exits 1: the images differ
    assert shown.format(tmp=tmp_path) in drawn
    assert "0/? bytes" not in drawn and "/?" not in drawn
    piped = run_lamina(store, *args)
    assert shown.format(tmp=tmp_path).encode() not in piped.stderr


def test_create_counts_the_layers_bytes(store):
    _, drawn = _stderr_on_a_terminal(store, "create", "local/stack:2", "true")
    line = [ln for ln in drawn.splitlines() if "Creating the container's files" in ln][-1]
    assert re.search(r"(\d+(\.\d+)?)/\1 (bytes|kB|MB)", line), line  # all of a known total
