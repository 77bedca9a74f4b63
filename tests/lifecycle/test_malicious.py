"""Hostile layers and hostile `cp` paths never write outside a container's root.

Each layer is loaded as an ordinary image (loading does not apply layers), then
`lamina create` materialises it: the attack must fail with one clear line (exit 5)
or stay inside the root, and no file may appear at the place it aimed for.
"""

from __future__ import annotations

import secrets
import tarfile
from pathlib import Path

import pytest

from tests.builders import FakeImage, docker_archive, layer_tar
from tests.lamina_cli import run_lamina
from tests.lifecycle.helpers import entry, fs_of_tar, load_layers, out, raw_tar

UP = "../" * 30  # enough to climb from any store depth to /


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A directory outside the store that the attacks aim at (must stay empty)."""
    t = Path("/tmp") / f"lamina-target-{secrets.token_hex(6)}"
    t.mkdir()
    yield t
    for p in sorted(t.rglob("*"), reverse=True):
        p.unlink() if not p.is_dir() or p.is_symlink() else p.rmdir()
    t.rmdir()


def attacks(t: Path) -> dict[str, list[bytes]]:
    rel = UP + str(t).lstrip("/")
    base = layer_tar({"bin/": None, "bin/sh": b"#!fake\n"})
    return {
        "dotdot": [base, raw_tar(entry(f"{rel}/evil", data=b"x"))],
        "symlink-abs-parent": [
            base,
            raw_tar(entry("link", tarfile.SYMTYPE, link=str(t)), entry("link/evil", data=b"x")),
        ],
        "symlink-rel-parent": [
            base,
            raw_tar(entry("up", tarfile.SYMTYPE, link=rel), entry("up/evil", data=b"x")),
        ],
        "symlink-then-used-in-next-layer": [
            base,
            raw_tar(entry("dir", tarfile.SYMTYPE, link=str(t))),
            raw_tar(entry("dir/evil", data=b"x")),
        ],
        "hardlink-outside": [base, raw_tar(entry("hl", tarfile.LNKTYPE, link=f"{rel}/victim"))],
        "hardlink-through-symlink": [
            base,
            raw_tar(
                entry("out", tarfile.SYMTYPE, link=str(t)),
                entry("hl", tarfile.LNKTYPE, link="out/victim"),
            ),
        ],
        "whiteout-escape": [base, raw_tar(entry(f"{rel}/.wh.victim"))],
    }


# what load's tar check (layer/tarcheck.py) refuses from the names alone; the symlink
# attacks need the filesystem a stack of layers makes, and are refused by create
LOAD_REFUSES = {"dotdot", "hardlink-outside", "whiteout-escape"}


@pytest.mark.parametrize(
    "name",
    [
        "dotdot",
        "symlink-abs-parent",
        "symlink-rel-parent",
        "symlink-then-used-in-next-layer",
        "hardlink-outside",
        "hardlink-through-symlink",
        "whiteout-escape",
    ],
)
def test_hostile_layer_cannot_escape(tmp_path, target, name):
    (target / "victim").write_text("precious\n")
    store = tmp_path / "s"
    archive = docker_archive([FakeImage(attacks(target)[name], ["evil/x:1"])], tmp_path / "e.tar")
    cp = run_lamina(store, "load", "-i", str(archive))
    if name in LOAD_REFUSES:  # names alone tell: refused as the layer streams in, as Docker
        assert cp.returncode == 5 and b"points outside the root" in cp.stderr, cp.stderr
        assert sorted(p.name for p in target.iterdir()) == ["victim"]
        return
    assert cp.returncode == 0, cp.stderr.decode()
    cp = run_lamina(store, "create", "--name", "ctr", "evil/x:1")
    err = cp.stderr.decode().strip()
    assert cp.returncode == 5, err
    assert len(err.splitlines()) == 1 and err.startswith("lamina: error: ")
    assert sorted(p.name for p in target.iterdir()) == ["victim"]
    assert (target / "victim").read_text() == "precious\n"
    assert run_lamina(store, "ps", "-a", "-q").stdout == b""  # no half-made container
    staging = [p for p in (store / "lamina" / "containers").iterdir()]
    assert staging == []


def test_absolute_entry_names_stay_inside(tmp_path, target):
    """`/tmp/...` in a layer means the container's /tmp, as tar and Docker treat it."""
    store = tmp_path / "s"
    load_layers(store, tmp_path, [raw_tar(entry(f"{target}/evil", data=b"x"))], "abs/x:1")
    out(store, "create", "--name", "ctr", "abs/x:1")
    assert list(target.iterdir()) == []
    exported = run_lamina(store, "export", "ctr").stdout
    names = fs_of_tar(exported, skip_runtime=False)
    assert any(n.endswith(f"{target.name}/evil") for n in names)


def test_hostile_cp_paths(tmp_path, target):
    store = tmp_path / "s"
    layers = [
        raw_tar(
            entry("bin/", tarfile.DIRTYPE),
            entry("abs", tarfile.SYMTYPE, link=str(target)),
            entry("rel", tarfile.SYMTYPE, link=UP + str(target).lstrip("/")),
            entry("victimlink", tarfile.SYMTYPE, link=str(target / "victim")),
        )
    ]
    load_layers(store, tmp_path, layers, "links/x:1")
    out(store, "create", "--name", "ctr", "links/x:1")
    (target / "victim").write_text("precious\n")
    payload = tmp_path / "payload"
    payload.write_text("pwned\n")
    for dst in ("ctr:../../../../evil", f"ctr:{UP}{str(target).lstrip('/')}/evil"):
        cp = run_lamina(store, "cp", str(payload), dst)
        assert cp.returncode == 5 and b"climbs above" in cp.stderr
    for dst in ("ctr:/abs/evil", "ctr:/rel/evil", "ctr:/victimlink"):
        run_lamina(store, "cp", str(payload), dst)  # lands inside the root, or fails
    got = tmp_path / "got"
    cp = run_lamina(store, "cp", "-L", "ctr:/victimlink", str(got))
    assert cp.returncode != 0 and not got.exists()  # followed inside the root: nothing there
    assert sorted(p.name for p in target.iterdir()) == ["victim"]
    assert (target / "victim").read_text() == "precious\n"
