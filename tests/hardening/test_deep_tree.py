"""A layer nesting directories deeper than Python's recursion limit (1,000) goes through
every command that walks trees: nothing recurses, nothing is left behind. The CLI test
uses 1,200 levels (2,000 work too, but `create` then takes ~30 s: its directory metadata
pass walks each path from the root); the removal test 2,000."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from lamina.layer.safedir import remove_tree
from tests.builders import FakeImage, docker_archive, stack
from tests.lamina_cli import run_lamina

DEPTH = 2000


CLI_DEPTH = 1200


def deep_layer(depth: int = CLI_DEPTH) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        path = ""
        for _ in range(depth):
            path += "d/"
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        info = tarfile.TarInfo(path + "leaf")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"deep\n"))
    return buf.getvalue()


def test_remove_tree_is_iterative(tmp_path: Path) -> None:
    top = tmp_path / "top"
    here = top
    for _ in range(DEPTH):
        here.mkdir(parents=True)
        (here / "f").write_bytes(b"12345")
        here = here / "d"
    assert remove_tree(str(top)) == 5 * DEPTH
    assert not top.exists()


def test_every_tree_walk_survives_a_deep_layer(tmp_path: Path) -> None:
    store = tmp_path / "s"
    (base,) = stack(1)
    deep = FakeImage([base.layers[0], deep_layer()], ["local/deep:1"])

    def ok(*args: str) -> None:
        cp = run_lamina(store, *args)
        assert cp.returncode == 0, f"lamina {args[0]}: {cp.stderr.decode()}"

    ok("load", "-i", str(docker_archive([base], tmp_path / "b.tar")))
    ok("load", "-i", str(docker_archive([deep], tmp_path / "d.tar")))
    ok("create", "--name", "c1", "local/deep:1")
    ok("commit", "c1", "local/committed:1")
    ok("export", "-o", str(tmp_path / "e.tar"), "c1")
    ok("flatten", "local/deep:1", "-t", "local/flat:1")
    ok("squash", "local/deep:1", "-t", "local/squashed:1")
    ok("diff", "local/deep:1", "local/flat:1")
    ok("diff", "local/deep:1", "local/squashed:1")
    ok("rm", "c1")  # was: RecursionError, and a .gone-ID that broke every later create
    ok("create", "--name", "c2", "local/base:1")
    ok("rm", "c2")
    assert not [p for p in (store / "lamina").rglob(".gone-*")]
