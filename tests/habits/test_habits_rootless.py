"""Without root, `cp` + `commit` record the new files as 0:0, as Docker does (its daemon
is root) and as lamina does as root: the user's own uid/gid stand for the container's
root. Run as `nobody` (setpriv; CAP_DAC_READ_SEARCH only so it can read this venv)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.builders import stack
from tests.kit.image import docker_archive

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to become nobody"
)
NOBODY = [
    "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
    "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
]  # fmt: skip


def _as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    argv = [*NOBODY, sys.executable, "-m", "lamina", "--store", str(home / "s"), *args]
    return subprocess.run(argv, capture_output=True, env={**os.environ, "HOME": str(home)})


def _top_layer(archive: Path) -> list[tuple[str, int, int]]:
    with tarfile.open(archive) as t:
        manifest = json.load(t.extractfile("manifest.json"))  # type: ignore[arg-type]
        raw = t.extractfile(manifest[0]["Layers"][-1]).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
        return [(m.name, m.uid, m.gid) for m in layer.getmembers()]


def test_cp_then_commit_without_root_records_root_as_owner(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.chown(home, "nobody", "nogroup")
    docker_archive(stack(1), home / "base.tar")
    (home / "f").write_text("hello\n")
    for path in (home / "base.tar", home / "f"):
        path.chmod(0o644)
    for args in (
        ("load", "-i", str(home / "base.tar")),
        ("create", "--name", "box", "local/base:1", "true"),
        ("cp", str(home / "f"), "box:/etc/f"),
        ("commit", "box", "local/c:1"),
        ("save", "-o", str(home / "c.tar"), "local/c:1"),
    ):
        done = _as_nobody(home, *args)
        assert done.returncode == 0, (args, done.stderr)
    assert os.stat(home / "s").st_uid != 0  # it really ran as nobody
    entries = _top_layer(home / "c.tar")
    assert ("etc/f", 0, 0) in entries and all(u == g == 0 for _, u, g in entries)
    out = _as_nobody(home, "cp", "box:/etc/f", "-")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as t:
        assert [(m.name, m.uid, m.gid) for m in t.getmembers()] == [("f", 0, 0)]
