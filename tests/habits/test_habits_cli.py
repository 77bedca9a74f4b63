"""Small Docker habits of the command line: no global -q (it belongs to listings),
`load` on a terminal fails at once, the default squash with nothing to squash says
so and makes no image, `squash -i -o` says what it wrote (no store is tagged)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.builders import stack
from tests.kit.image import docker_archive
from tests.lamina_cli import run_lamina


def _stored(tmp_path: Path, n: int = 3) -> tuple[Path, Path]:
    archive = docker_archive(stack(n), tmp_path / "stack.tar")
    store = tmp_path / "store"
    assert run_lamina(store, "load", "-i", str(archive)).returncode == 0
    return store, archive


def test_progress_switch_is_no_progress_and_q_is_for_listings(tmp_path):
    store, _ = _stored(tmp_path, 2)
    top = run_lamina(store, "--help").stdout.decode()
    assert "--no-progress" in top and "-q, --quiet" not in top
    ids = run_lamina(store, "--no-progress", "images", "-q")
    assert ids.returncode == 0 and len(ids.stdout.split()) == 2
    old = run_lamina(store, "-q", "images", "-q")  # old scripts keep working
    assert old.returncode == 0 and old.stdout == ids.stdout


def test_load_on_a_terminal_fails_at_once(tmp_path):
    main, other = pty.openpty()
    try:
        cp = subprocess.run(
            [sys.executable, "-m", "lamina", "--store", str(tmp_path / "s"), "load"],
            stdin=other,
            capture_output=True,
            timeout=60,
        )
    finally:
        os.close(main)
        os.close(other)
    assert cp.returncode == 2
    assert b"requested load from stdin, but stdin is empty" in cp.stderr  # docker's words


def test_default_squash_with_one_layer_above_the_base_does_nothing(tmp_path):
    store, _ = _stored(tmp_path, 2)  # local/stack:1 is local/base:1 plus one layer
    before = run_lamina(store, "images", "-a", "-q", "--no-trunc").stdout
    cp = run_lamina(store, "squash", "local/stack:1")
    assert cp.returncode == 0
    assert b"nothing to squash: local/stack:1 has one layer above its base" in cp.stderr
    assert b" -> " not in cp.stderr
    stack_id = run_lamina(store, "images", "-q", "--no-trunc", "local/stack:1").stdout
    assert cp.stdout == stack_id  # the image itself, no new ID
    assert run_lamina(store, "images", "-a", "-q", "--no-trunc").stdout == before
    none = run_lamina(store, "squash", "local/base:1", "--base", "local/base:1")
    assert none.returncode == 2  # an explicit base that is the image itself stays an error
    doc = json.loads(run_lamina(store, "squash", "--json", "local/stack:1").stdout)
    assert doc["Unchanged"].startswith("nothing to squash") and doc["Squashed"] is None
    tagged = run_lamina(store, "squash", "local/stack:1", "-t", "local/same:1")
    assert tagged.stdout == stack_id  # -t names the same image, so a script's next step works


def _squash_archive(archive: Path, out: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`lamina squash -i ARCHIVE -o OUT ARGS...` (no store is touched)."""
    return run_lamina(
        archive.parent / "unused", "squash", "-i", str(archive), "-o", str(out), *args
    )


def test_squash_archive_says_what_it_wrote_not_tagged(tmp_path):
    _, archive = _stored(tmp_path, 4)
    out = tmp_path / "out.tar"
    cp = _squash_archive(archive, out, "local/stack:3", "-t", "local/sq:1")
    assert cp.returncode == 0, cp.stderr
    err = cp.stderr.decode()
    assert "Tagged:" not in err and f"Wrote {out} (as local/sq:1)" in err
    assert out.exists()
    one = _squash_archive(archive, tmp_path / "o2.tar", "local/stack:1")
    assert one.returncode == 0 and b"nothing to squash" in one.stderr
    assert (tmp_path / "o2.tar").exists()


def test_squash_archive_of_a_middle_range_writes_the_layers_above(tmp_path):
    """Layers above the squashed range are written as they were (they used to crash)."""
    _, archive = _stored(tmp_path, 4)
    out = tmp_path / "mid.tar"
    cp = _squash_archive(archive, out, "local/stack:3", "--layers", "1..2")
    assert cp.returncode == 0, cp.stderr
    assert b"4 -> 3 layers" in cp.stderr
    loaded = run_lamina(tmp_path / "s2", "load", "-i", str(out))
    assert loaded.returncode == 0, loaded.stderr


def test_an_unknown_platform_says_which_platforms_exist(tmp_path):
    from tests.core.test_names import _layout_for

    layout = _layout_for(tmp_path / "layout", ["amd64", "arm64"])
    cp = run_lamina(tmp_path / "s", "load", "-i", str(layout), "--platform", "linux/s390x")
    err = cp.stderr.decode()
    assert cp.returncode == 3
    assert "has no image for linux/s390x" in err
    assert "it offers linux/amd64, linux/arm64" in err and "with --platform" in err
    bad = run_lamina(tmp_path / "s", "load", "-i", str(layout), "--platform", "sparkle")
    assert bad.returncode == 2 and b"ARCH is one of 386, amd64," in bad.stderr
