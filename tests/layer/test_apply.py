"""apply_layers: the table stacks on disk, and layers that try to escape the root."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from lamina.errors import InvalidInputError, UnsafePathError
from lamina.layer.apply import apply_layers
from tests.kit.layers import E, dir_, file, hardlink, layer_bytes, opaque, symlink, whiteout
from tests.layer.stacks import Pipe, disk_view, model_of, same, squash_bytes, view
from tests.layer.test_squash import STACKS

# stacks whose symlinks a host would follow out of the root when used as parents
_ESCAPING = {"lower children under a new symlink"}


def _apply(root: Path, *layers: bytes) -> None:
    apply_layers([io.BytesIO(b) for b in layers], root)


@pytest.mark.parametrize("name", sorted(set(STACKS) - _ESCAPING))
def test_table_stacks_on_disk_match_the_model(name: str, tmp_path: Path) -> None:
    layers = [layer_bytes(e) for e in STACKS[name]]
    _apply(tmp_path / "all", *layers)
    problems = same(view(model_of(layers)), disk_view(tmp_path / "all"))
    assert not problems, "\n".join(problems)
    # and the squash of the whole stack, on disk, is the same filesystem
    _apply(tmp_path / "squashed", squash_bytes(layers, 0, len(layers)))
    problems = same(view(model_of(layers)), disk_view(tmp_path / "squashed"))
    assert not problems, "\n".join(problems)


def test_layers_from_pipes(tmp_path: Path) -> None:
    layers = [layer_bytes(e) for e in STACKS["whiteout and same-name file in one layer"]]
    apply_layers([Pipe(b) for b in layers], tmp_path / "r")  # type: ignore[misc]
    assert not same(view(model_of(layers)), disk_view(tmp_path / "r"))


def test_modes_and_times_of_directories_are_set_last(tmp_path: Path) -> None:
    _apply(tmp_path / "r", layer_bytes([dir_("ro", mode=0o555, mtime=1000), file("ro/f", b"x")]))
    st = os.stat(tmp_path / "r/ro")
    assert stat.S_IMODE(st.st_mode) == 0o555 and st.st_mtime == 1000


# -- escapes ---------------------------------------------------------------------------
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the root that nothing may touch."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "canary").write_bytes(b"alive")
    return d


def _untouched(outside: Path) -> None:
    assert sorted(os.listdir(outside)) == ["canary"]
    assert (outside / "canary").read_bytes() == b"alive"


EVIL: dict[str, list[list[E]]] = {
    "dotdot name": [[file("../outside/pwned", b"x")]],
    "dotdot inside a name": [[dir_("a"), file("a/../../outside/pwned", b"x")]],
    "symlink to an absolute path as a parent": [
        [symlink("evil", "/OUTSIDE"), file("evil/pwned", b"x")]
    ],
    "symlink climbing out as a parent": [[symlink("evil", "../outside"), file("evil/pwned")]],
    "deep symlink climbing out": [
        [dir_("a"), symlink("a/evil", "../../outside"), file("a/evil/p")]
    ],
    "symlink from a lower layer as a parent": [
        [symlink("evil", "../outside")],
        [file("evil/pwned", b"x")],
    ],
    "symlink as the parent of a directory": [[symlink("evil", "/OUTSIDE"), dir_("evil/sub")]],
    "hardlink out by dotdot": [[hardlink("hl", "../outside/canary")]],
    "hardlink through a symlink": [[symlink("evil", "/OUTSIDE"), hardlink("hl", "evil/canary")]],
    "whiteout name climbing out": [[file(".wh...")]],
}


@pytest.mark.parametrize("name", EVIL)
def test_escapes_are_refused(name: str, tmp_path: Path, outside: Path) -> None:
    stack = [
        [
            E(e.kind, e.name, e.data, e.mode, link=e.link.replace("/OUTSIDE", str(outside)))
            for e in layer
        ]
        for layer in EVIL[name]
    ]
    with pytest.raises(UnsafePathError) as err:
        _apply(tmp_path / "root", *(layer_bytes(layer) for layer in stack))
    assert "\n" not in str(err.value)
    _untouched(outside)


def test_whiteouts_do_not_reach_through_symlinks(tmp_path: Path, outside: Path) -> None:
    _apply(
        tmp_path / "root",
        layer_bytes([symlink("evil", str(outside))]),
        layer_bytes([whiteout("evil/canary"), opaque("evil")]),
    )
    _untouched(outside)


def test_entries_replace_symlinks_instead_of_writing_through(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "root"
    _apply(
        root,
        layer_bytes([symlink("f", str(outside / "canary")), symlink("d", "inside")]),
        layer_bytes([file("f", b"replaced"), file("d/x", b"x")]),
    )
    _untouched(outside)
    assert (root / "f").read_bytes() == b"replaced" and not (root / "f").is_symlink()
    assert (root / "d").is_dir() and not (root / "d").is_symlink()  # as overlayfs shows it


def test_hardlink_to_an_escaping_symlink_links_the_symlink(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "root"
    _apply(root, layer_bytes([symlink("s", str(outside / "canary")), hardlink("h", "s")]))
    assert os.readlink(root / "h") == str(outside / "canary")
    assert os.lstat(root / "h").st_ino == os.lstat(root / "s").st_ino
    _untouched(outside)


def test_absolute_names_land_inside(tmp_path: Path, outside: Path) -> None:
    _apply(tmp_path / "root", layer_bytes([file(str(outside / "pwned"), b"x")]))
    _untouched(outside)
    assert (tmp_path / "root" / str(outside).lstrip("/") / "pwned").read_bytes() == b"x"


def test_dangling_hardlink_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"does not exist|missing"):
        _apply(tmp_path / "root", layer_bytes([hardlink("h", "nowhere")]))


def test_without_root_owners_and_devices_are_skipped_and_reported(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    from tests.kit.layers import chardev

    layer = layer_bytes([file("f", b"x", uid=0, gid=0), chardev("null", 1, 3), dir_("d")])
    base = Path(tempfile.mkdtemp())  # pytest's tmp_path is private to root
    os.chmod(base, 0o755)
    root = base / "r"
    root.mkdir()
    os.chown(root, 65534, 65534)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, apply, report
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            report = apply_layers([io.BytesIO(layer)], root)
            os.write(write, "\n".join(report.lines()).encode())
        except BaseException as e:
            os.write(write, repr(e).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as r:
        lines = r.read()
    os.waitpid(pid, 0)
    assert "owners (need root): 2 skipped" in lines
    assert "device nodes (need root): 1 skipped" in lines
    assert (root / "f").read_bytes() == b"x" and not (root / "null").exists()
    assert os.stat(root / "f").st_uid == 65534
    shutil.rmtree(base)
