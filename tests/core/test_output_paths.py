"""`-o PATH` writes INTO what PATH is (issue 11 item 10): a FIFO, a character device or
/dev/stdout is written as a stream and stays what it was; a regular file (or a new
path, or a symlink to one) is replaced atomically, and a failed write leaves it as it
was, or leaves nothing. Covers save, delta save, inventory, expand and export.

No test here can replace the real /dev/null or /dev/stdout, even against a regressed
lamina: devices are made in tmp_path, and /dev paths are only used in a mount namespace
where /dev is read-only (as root), or as a user who cannot write /dev.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import lamina
from lamina.errors import DigestMismatchError
from tests.builders import docker_archive, stack
from tests.lamina_cli import run_lamina

OUT = "{out}"
COMMANDS = {
    "save": ["save", "-o", OUT, "local/stack:2"],
    "delta-save": ["save", "-o", OUT, "local/stack:2", "--exclude", "local/base:1"],
    "inventory": ["inventory", "-o", OUT],
    "expand": ["expand", "{delta}", "-o", OUT],
    "export": ["export", "-o", OUT, "box"],
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """A store with stack(3) and a container; what each command writes to a plain file."""
    tmp = tmp_path_factory.mktemp("outputs")
    store = tmp / "store"
    lamina.load(lamina.open_store(store), str(docker_archive(stack(3), tmp / "a.tar")))
    run_lamina(store, "create", "--name", "box", "local/stack:2", check=True)
    delta = tmp / "delta.tar"
    run_lamina(store, *_args("delta-save", delta, delta), check=True)
    expected = {}
    for name in COMMANDS:
        ref = tmp / f"ref-{name}"
        run_lamina(store, *_args(name, ref, delta), check=True)
        expected[name] = ref.read_bytes()
        assert expected[name]
    return store, delta, expected


def _args(name: str, out: Path | str, delta: Path) -> list[str]:
    return [a.format(out=out, delta=delta) for a in COMMANDS[name]]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".partial" in p.name)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_fifo_is_written_into_and_stays_a_fifo(setup, tmp_path, name):
    store, delta, expected = setup
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        cp = run_lamina(store, *_args(name, fifo, delta))
        got, _ = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:  # lamina never opened the FIFO: stop our reader
            reader.kill()
            reader.wait()
    assert cp.returncode == 0, cp.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got == expected[name]
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_character_device_is_written_into_and_stays_one(setup, tmp_path, name):
    store, delta, _ = setup
    null = tmp_path / "null"
    try:  # a /dev/null of our own: replacing it cannot harm the machine
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        with open(null, "wb") as f:
            f.write(b"probe")
    except OSError as exc:
        pytest.skip(f"cannot make or open a device node here: {exc}")
    cp = run_lamina(store, *_args(name, null, delta))
    assert cp.returncode == 0, cp.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert _leftovers(tmp_path) == []


def _descriptor_paths(tmp_path: Path) -> dict[str, str]:
    """Paths that reach the process's own stdout, like /dev/stdout does."""
    link = tmp_path / "stdout-link"
    link.symlink_to("/proc/self/fd/1")
    return {"dev-fd-1": "/dev/fd/1", "link-to-proc-fd": str(link), "dev-stdout": "/dev/stdout"}


def _lamina(store: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "lamina", "--store", str(store), *args]


def _guarded(argv: list[str], path: str) -> list[str]:
    """Run `argv` so that a regressed lamina cannot replace anything under /dev."""
    if not path.startswith("/dev/") or os.geteuid() != 0:
        return argv  # a user who is not root cannot write /dev at all
    ro = 'mount --bind /dev /dev && mount -o remount,bind,ro /dev && exec "$@"'
    probe = subprocess.run(["unshare", "-m", "sh", "-c", ro, "sh", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make /dev read-only in a mount namespace: not risking the real one")
    return ["unshare", "-m", "sh", "-c", ro, "sh", *argv]


@pytest.mark.parametrize("where", ["dev-stdout", "dev-fd-1", "link-to-proc-fd"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_stdout_paths_carry_the_output(setup, tmp_path, name, where):
    """`save -o /dev/stdout IMG | wc -c` printed 0: the temp file was renamed over the link."""
    store, delta, expected = setup
    path = _descriptor_paths(tmp_path)[where]
    argv = _lamina(store, *_args(name, path, delta))
    cp = subprocess.run(_guarded(argv, path), capture_output=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == expected[name]
    assert os.path.islink(tmp_path / "stdout-link")
    assert _leftovers(tmp_path) == [] and _leftovers(Path("/dev")) == []


def test_dev_null_itself_stays_a_device(setup):
    """The reported accident, on the real path, where a regression could not do it."""
    store, delta, _ = setup
    argv = _lamina(store, *_args("save", "/dev/null", delta))
    cp = subprocess.run(_guarded(argv, "/dev/null"), capture_output=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_symlink_to_a_file_keeps_pointing_at_the_new_file(setup, tmp_path):
    store, delta, expected = setup
    target = tmp_path / "real.tar"
    target.write_bytes(b"old")
    link = tmp_path / "link.tar"
    link.symlink_to(target.name)
    cp = run_lamina(store, *_args("save", link, delta))
    assert cp.returncode == 0, cp.stderr
    assert os.readlink(link) == target.name and target.read_bytes() == expected["save"]
    # a dangling link: its target is created, the link is left as it is
    dangling = tmp_path / "dangling.tar"
    dangling.symlink_to("made.tar")
    cp = run_lamina(store, *_args("save", dangling, delta))
    assert cp.returncode == 0, cp.stderr
    assert os.path.islink(dangling) and (tmp_path / "made.tar").read_bytes() == expected["save"]
    assert _leftovers(tmp_path) == []


def test_a_failed_save_leaves_the_old_file_or_nothing(tmp_path):
    store = lamina.open_store(tmp_path / "s")
    lamina.load(store, str(docker_archive(stack(3), tmp_path / "a.tar")))
    top = lamina.get_image(store, "local/stack:2").image.layers[-1]
    path = store.layer_path(top.diff_id)
    data = bytearray(path.read_bytes())
    data[data.find(b"2\n")] = ord("X")
    path.write_bytes(bytes(data))
    old = tmp_path / "old.tar"
    old.write_bytes(b"the previous archive")
    for out in (old, tmp_path / "new.tar"):
        with pytest.raises(DigestMismatchError):
            lamina.save(store, ["local/stack:2"], out)
    assert old.read_bytes() == b"the previous archive"
    assert not (tmp_path / "new.tar").exists()
    assert _leftovers(tmp_path) == []


def test_a_directory_or_missing_parent_is_one_line(setup, tmp_path):
    store, delta, _ = setup
    for out in (tmp_path, tmp_path / "no" / "such" / "dir.tar"):
        cp = run_lamina(store, *_args("save", out, delta))
        assert cp.returncode == 2, cp.stderr
        assert cp.stderr.count(b"\n") == 1 and str(out).encode() in cp.stderr
