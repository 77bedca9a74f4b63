"""THE CORPUS TEST: every command that reads input, over every broken input of
tests/hardening/corpus.py, through the real CLI. Each run must end in one line on
stderr (no traceback, no 'Exception in thread') and the exit code the case means,
leave the store byte for byte as it was, and write nothing outside the store or the
-o target. Inputs that are valid (as Go and Docker read them) must go all the way:
load, flatten, diff, create, rm, inspect, save, squash -i/-o, import."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.hardening.corpus import TAG, Archive, Layer, archives, tar_layers
from tests.lamina_cli import run_lamina

ARCHIVES = archives()
LAYERS = tar_layers()


def tree_state(root: Path) -> dict[str, str]:
    """Every path below root: a directory, a symlink target, or a file's sha256."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel == "lamina/lock":  # the store's lock file: created by the first writer
            continue
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


class World:
    """A private directory holding the inputs, the store and -o targets."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "store"
        run_lamina(self.store, "images", check=True)

    def run(self, code: int | set[int], *args: str, target: Path | None = None) -> str:
        """Run lamina; on failure check one line, the store and the world untouched."""
        store_before = tree_state(self.store)
        world_before = {k: v for k, v in tree_state(self.root).items() if not k.startswith("store")}
        cp: subprocess.CompletedProcess[bytes] = run_lamina(self.store, *args)
        err = cp.stderr.decode(errors="replace")
        codes = {code} if isinstance(code, int) else code
        what = f"lamina {' '.join(args)} -> {cp.returncode}: {err}"
        assert cp.returncode in codes, what
        assert "Traceback" not in err and "Exception in thread" not in err, what
        if cp.returncode != 0:
            assert err.startswith("lamina: error: ") and err.count("\n") == 1, what
            assert tree_state(self.store) == store_before, f"store changed: {what}"
            world = {k: v for k, v in tree_state(self.root).items() if not k.startswith("store")}
            assert world == world_before, f"wrote outside the store: {what}"
            assert target is None or not target.exists(), f"left {target}: {what}"
        return cp.stdout.decode()


@pytest.mark.parametrize("case", ARCHIVES, ids=[a.name for a in ARCHIVES])
def test_every_command_over_every_broken_archive(tmp_path: Path, case: Archive) -> None:
    world = World(tmp_path / "w")
    archive = case.build(world.root / "input.tar")
    squash_codes = {0} if case.code == 0 else {5}  # squash -i reads as load does
    out = world.root / "squashed.tar"
    world.run(
        squash_codes, "squash", "-i", str(archive), "-o", str(out), "--layers", "0..1", target=out
    )
    out.unlink(missing_ok=True)
    world.run(case.code, "load", "-i", str(archive))
    if case.code != 0:
        world.run(3, "inspect", TAG)
        return
    world.run(0, "inspect", TAG)
    world.run(0, "images")
    world.run(0, "flatten", TAG, "-t", "local/flat:1")
    world.run(0, "diff", TAG, "local/flat:1")
    world.run(0, "create", "--name", "ctr", TAG)
    world.run(0, "export", "-o", str(world.root / "export.tar"), "ctr")
    world.run(0, "rm", "ctr")
    world.run(0, "save", "-o", str(world.root / "saved.tar"), TAG)


@pytest.mark.parametrize("layer", LAYERS, ids=[x.name for x in LAYERS])
def test_import_of_every_tar_class(tmp_path: Path, layer: Layer) -> None:
    world = World(tmp_path / "w")
    src = world.root / "layer.tar"
    src.write_bytes(layer.data)
    world.run(0 if layer.valid else 5, "import", str(src), "local/imported:1")
