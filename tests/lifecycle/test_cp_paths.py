"""`cp` into and out of a container root: docker cp's placement rules, and no escape.

The root here is a plain directory shaped like a hostile container: symlinks that
point outside (absolute and relative), a symlinked parent directory, `..` paths.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from lamina.containers.cp import copy_in, copy_out
from lamina.errors import ConflictError, NotFoundError, UnsafePathError


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    """(rootfs, outside): a container root with hostile links, and a dir beside it."""
    root, outside = tmp_path / "rootfs", tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hosts").write_text("in the container\n")
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    (root / "abs").symlink_to(str(outside))  # absolute: means /<outside> in the container
    (root / "rel").symlink_to("../../../../../../" + str(outside).lstrip("/"))
    (root / "etclink").symlink_to("/etc")
    (root / "hostslink").symlink_to("/etc/hosts")
    (root / "secretlink").symlink_to(str(outside / "secret"))
    return root, outside


def snapshot_outside(outside: Path) -> dict[str, str]:
    return {str(p.relative_to(outside)): p.read_text() for p in outside.rglob("*") if p.is_file()}


def test_copy_in_places_like_docker(box, tmp_path):
    root, _ = box
    src = tmp_path / "f.txt"
    src.write_text("hello\n")
    os.chmod(src, 0o640)
    copy_in(root, str(src), "/etc")  # existing dir: inside it
    assert (root / "etc" / "f.txt").read_text() == "hello\n"
    assert (root / "etc" / "f.txt").stat().st_mode & 0o777 == 0o640
    copy_in(root, str(src), "/etc/renamed")  # new name
    assert (root / "etc" / "renamed").read_text() == "hello\n"
    copy_in(root, str(src), "/etc/hosts")  # existing file: replaced
    assert (root / "etc" / "hosts").read_text() == "hello\n"
    with pytest.raises(NotFoundError):
        copy_in(root, str(src), "/nodir/")
    with pytest.raises(NotFoundError):
        copy_in(root, str(src), "/no/such/parent")


def test_copy_in_directory_and_contents(box, tmp_path):
    root, _ = box
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a").write_text("a")
    (tree / "link").symlink_to("sub/a")
    os.link(tree / "sub" / "a", tree / "hard")
    copy_in(root, str(tree), "/opt")  # does not exist: becomes the copy
    assert (root / "opt" / "sub" / "a").read_text() == "a"
    assert os.readlink(root / "opt" / "link") == "sub/a"
    assert (root / "opt" / "hard").stat().st_ino == (root / "opt" / "sub" / "a").stat().st_ino
    copy_in(root, str(tree), "/opt")  # exists: inside it
    assert (root / "opt" / "tree" / "sub" / "a").exists()
    copy_in(root, str(tree) + "/.", "/etc")  # contents only
    assert (root / "etc" / "sub" / "a").exists()
    with pytest.raises(ConflictError):
        copy_in(root, str(tree), "/etc/hosts")


def test_copy_in_follows_container_links_inside_root(box, tmp_path):
    """Symlinks resolve as the container sees them: an absolute target starts at ITS root."""
    root, outside = box
    before = snapshot_outside(outside)
    src = tmp_path / "evil"
    src.write_text("pwned\n")
    for dst in ("/abs/secret", "/rel/secret", "/abs/", "/secretlink", "/rel/x"):
        with contextlib.suppress(NotFoundError, UnsafePathError):
            copy_in(root, str(src), dst)
    assert snapshot_outside(outside) == before
    assert not (outside / "evil").exists() and not (outside / "x").exists()
    copy_in(root, str(src), "/etclink/viaLink")  # in-root link: fine
    assert (root / "etc" / "viaLink").read_text() == "pwned\n"
    copy_in(root, str(src), "/hostslink")  # a link as destination is followed, in the root
    assert (root / "etc" / "hosts").read_text() == "pwned\n"


def test_dotdot_above_root_is_refused(box, tmp_path):
    root, outside = box
    src = tmp_path / "evil"
    src.write_text("x")
    for dst in ("../outside/evil", "/../../outside/evil", "etc/../../x"):
        with pytest.raises(UnsafePathError, match="climbs above"):
            copy_in(root, str(src), dst)
    with pytest.raises(UnsafePathError):
        copy_out(root, "../outside/secret", str(tmp_path / "got"))
    assert not (outside / "evil").exists()


def test_copy_out_never_reads_outside(box, tmp_path):
    root, outside = box
    got = tmp_path / "got"
    copy_out(root, "/secretlink", str(got))  # the link itself, not what it names
    assert got.is_symlink() and os.readlink(got) == str(outside / "secret")
    got.unlink()
    with pytest.raises(NotFoundError):
        copy_out(root, "/secretlink", str(got), follow=True)  # followed IN the root: absent
    with pytest.raises(NotFoundError):
        copy_out(root, "/abs/secret", str(got))
    copy_out(root, "/etc", str(got))
    assert (got / "hosts").read_text() == "in the container\n"
    dest = tmp_path / "whole"
    copy_out(root, "/", str(dest))
    assert (dest / "etc" / "hosts").exists() and (dest / "abs").is_symlink()


def test_swapped_directory_is_not_followed(box, tmp_path):
    """A directory replaced by a symlink between lookup and use: open_dir refuses it."""
    from lamina.containers import inroot

    root, _outside = box
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(UnsafePathError):
            inroot.open_dir(fd, ["abs"], "/abs")
    finally:
        os.close(fd)
