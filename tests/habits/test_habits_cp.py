"""`cp -` as `docker cp` does it: `cp CONTAINER:PATH -` writes a tar of PATH (named by
its last part) to stdout, `cp - CONTAINER:DIR` extracts a tar from stdin into DIR (which
must be a directory), entries escaping DIR are refused, and a missing path is named as
Docker names it. Compared with the real docker 20.10 on the same image."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.lamina_cli import run_lamina


def _tar(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _members(data: bytes) -> list[tuple[str, str, int]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return sorted((m.name.rstrip("/"), m.type.decode(), m.size) for m in t.getmembers())


@pytest.fixture
def pair(clean_docker: Any, fixtures: Any, tmp_path: Path) -> tuple[Any, Path]:
    archive = fixtures["base-skopeo"].path
    clean_docker.run("load", "-i", str(archive))
    clean_docker.run("create", "--name", "box", "local/base:1", "true")
    store = tmp_path / "store"
    assert run_lamina(store, "load", "-i", str(archive)).returncode == 0
    assert run_lamina(store, "create", "--name", "box", "local/base:1", "true").returncode == 0
    return clean_docker, store


def test_cp_to_stdout_writes_the_tar_docker_writes(pair):
    docker, store = pair
    theirs = docker.run("cp", "box:/bin", "-", text=False).stdout
    ours = run_lamina(store, "cp", "box:/bin", "-")
    assert ours.returncode == 0, ours.stderr
    assert _members(ours.stdout) == _members(theirs)
    assert _members(ours.stdout)[0][0] == "bin"


def test_cp_from_stdin_extracts_into_the_directory(pair):
    docker, store = pair
    tar = _tar({"app/conf": b"one\n", "app/bin/run": b"#!/bin/sh\n"})
    docker.run("cp", "-", "box:/bin", input=tar, text=False)
    done = run_lamina(store, "cp", "-", "box:/bin", input=tar)
    assert done.returncode == 0, done.stderr
    theirs = docker.run("cp", "box:/bin/app", "-", text=False).stdout
    ours = run_lamina(store, "cp", "box:/bin/app", "-").stdout
    assert _members(ours) == _members(theirs)
    assert ("app/conf", "0", 4) in _members(ours)


def test_cp_from_stdin_refuses_what_docker_refuses(pair, tmp_path):
    docker, store = pair
    tar = _tar({"x": b"x"})
    for dest in ("box:/nope", "box:/bin/busybox"):
        theirs = docker.run("cp", "-", dest, input=tar, text=False, check=False)
        ours = run_lamina(store, "cp", "-", dest, input=tar)
        assert theirs.returncode != 0 and ours.returncode != 0
        words = f'destination "{dest}" must be a directory'
        assert words in theirs.stderr.decode() and words in ours.stderr.decode()
    escape = _tar({"../../escape": b"x"})
    assert docker.run("cp", "-", "box:/bin", input=escape, text=False, check=False).returncode
    ours = run_lamina(store, "cp", "-", "box:/bin", input=escape)
    assert ours.returncode == 5 and b"escape" in ours.stderr
    listed = run_lamina(store, "cp", "box:/", "-").stdout
    assert not [n for n, _, _ in _members(listed) if "escape" in n]


def test_cp_names_the_missing_path_as_docker_does(pair, tmp_path):
    docker, store = pair
    (tmp_path / "f").write_text("x")
    for args in (
        (str(tmp_path / "f"), "box:/nope/x"),
        ("box:/nope/x", str(tmp_path / "out")),
        ("box:/nope/x", "-"),
    ):
        theirs = docker.run("cp", *args, check=False)
        ours = run_lamina(store, "cp", *args)
        said = theirs.stderr.strip().removeprefix("Error: ")
        assert said.startswith("No such container:path: box:/nope")
        assert ours.returncode == 3
        assert ours.stderr.decode().startswith(f"lamina: error: {said}")
