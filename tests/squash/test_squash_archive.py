"""squash -i/-o: an archive in, an archive out, no store (issue 9 item 1).

The image is read from the archive as a value, squashed into a scratch directory and
written as `save` writes it: the same bytes as squashing it in a store and saving it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lamina
from lamina.ops.squash import Range
from tests.builders import docker_archive, sha, stack
from tests.kit import validate_archive


def _squash(tmp: Path, store: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI with its own TMPDIR, so scratch files it leaves would show."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    argv = [sys.executable, "-m", "lamina", "--store", str(store), "squash", *args]
    return subprocess.run(argv, capture_output=True, env=env)


@pytest.mark.parametrize("compress", [False, True])
def test_archive_squash_needs_no_store_and_equals_the_store_path(tmp_path, compress):
    images = stack(4)
    archive = docker_archive(images, tmp_path / "in.tar", compress=compress)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out.tar"
    unused = tmp_path / "no-store"
    cp = _squash(scratch, unused, "-i", str(archive), "-o", str(out), "local/stack:3")
    assert cp.returncode == 0, cp.stderr
    assert not unused.exists()  # no store was made, not even a throwaway one
    assert list(scratch.iterdir()) == []
    # the same squash in a store (base found the same way), saved under the same name
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(archive))
    done = lamina.squash(store, "local/stack:3", tag="local/stack:3")
    expected = tmp_path / "expected.tar"
    lamina.save(store, ["local/stack:3"], expected)
    assert out.read_bytes() == expected.read_bytes()
    assert [c.id for c in validate_archive(out)] == [done.id]
    assert cp.stdout.decode().strip() == done.id
    assert done.squashed == Range(1, 4)  # above the oldest tagged ancestor, local/base:1


def test_archive_squash_names_and_errors(tmp_path):
    archive = docker_archive(stack(3), tmp_path / "in.tar")
    out = tmp_path / "out.tar"
    result = lamina.squash_archive(
        str(archive), out, image="local/stack:2", layers="0..-1", tag="flat:1"
    )
    assert result.name == "flat:1" and result.layers_after == 1 and result.layers_before == 3
    loaded = lamina.load(lamina.open_store(tmp_path / "o"), str(out))
    assert [(r.id, r.names) for r in loaded] == [(result.id, ("flat:1",))]
    with pytest.raises(lamina.LaminaError, match="holds 3 images"):
        lamina.squash_archive(str(archive), tmp_path / "x.tar", layers="0..-1")
    assert not (tmp_path / "x.tar").exists()


def test_a_delta_archive_is_refused_as_a_load_would_be(tmp_path):
    images = stack(3)
    delta = docker_archive(images[1:], tmp_path / "d.tar", omit={sha(images[0].layers[0])})
    out = tmp_path / "out.tar"
    cp = _squash(tmp_path, tmp_path / "no-store", "-i", str(delta), "-o", str(out), "local/stack:2")
    assert cp.returncode == 6, cp.stderr
    assert sha(images[0].layers[0])[:19].encode() in cp.stderr
    assert not out.exists() and not (tmp_path / "no-store").exists()
