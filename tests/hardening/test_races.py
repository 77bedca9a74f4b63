"""Races and rules between commands: each ends in one line and the exit code it means."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from lamina import api
from lamina.errors import NotFoundError
from lamina.layer import snapshot
from tests.builders import docker_archive, stack
from tests.lamina_cli import run_lamina


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "s"
    run_lamina(root, "load", "-i", str(docker_archive(stack(2), tmp_path / "a.tar")), check=True)
    return root


def test_commit_racing_rm_is_not_found(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rm` removes the container while `commit` reads it: a NotFoundError, not a
    FileNotFoundError traceback."""
    s = api.open_store(str(store))
    api.create(s, "local/stack:1", name="racer")
    real = snapshot.Snapshot.read

    def removed_meanwhile(path: Path) -> snapshot.Snapshot:
        api.rm(s, ["racer"], force=True)
        return real(path)

    monkeypatch.setattr(snapshot.Snapshot, "read", staticmethod(removed_meanwhile))
    with pytest.raises(NotFoundError, match="removed while it was being committed"):
        api.commit(s, "racer", "local/raced:1")


@pytest.mark.parametrize("name", [".wh..", "dir/.wh..", ".wh..."])
def test_import_refuses_the_whiteout_names_create_refuses(
    store: Path, tmp_path: Path, name: str
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    src = tmp_path / "evil.tar"
    src.write_bytes(buf.getvalue())
    cp = run_lamina(store, "import", str(src), "local/evil:1")
    err = cp.stderr.decode()
    assert cp.returncode == 5 and err.count("\n") == 1 and "names no file" in err, err
