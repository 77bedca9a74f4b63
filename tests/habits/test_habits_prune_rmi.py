"""`image prune`, `container prune`, `rmi a b c` and `rm a b c` the Docker way, run
through the real docker 20.10 and lamina on the same images and compared line for line:
the prompt (read from stdin even when it is a pipe; only "y" goes ahead; "n" exits 0
with "Total reclaimed space: 0B"), `-f`, Docker's "Deleted Images:" block and its total,
and "do what you can" removal with one error line per failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.lamina_cli import run_lamina

WARN = "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
WARN_ALL = (
    "WARNING! This will remove all images without at least one container associated to them."
    "\nAre you sure you want to continue? [y/N] "
)


class Both:
    """The same command through docker and lamina: (rc, stdout, stderr) each."""

    def __init__(self, docker: Any, store: Path) -> None:
        self.docker, self.store = docker, store

    def __call__(self, *args: str, input: str = "") -> tuple[Any, Any]:
        d = self.docker.run(*args, input=input, check=False)
        ours = run_lamina(self.store, *args, input=input.encode())
        mine = (ours.returncode, ours.stdout.decode(), ours.stderr.decode())
        return (d.returncode, d.stdout, d.stderr), mine


def _loaded(clean_docker: Any, fixtures: Any, tmp_path: Path) -> Both:
    archive = fixtures["docker-legacy-multi"].path
    clean_docker.run("load", "-i", str(archive))
    store = tmp_path / "store"
    assert run_lamina(store, "load", "-i", str(archive)).returncode == 0
    return Both(clean_docker, store)


def test_image_prune_asks_and_reports_like_docker(clean_docker, fixtures, tmp_path):
    both = _loaded(clean_docker, fixtures, tmp_path)
    both("tag", "local/base:1", "local/stack:3")  # the old stack:3 is now dangling
    for answer in ("n\n", "", "yes\n"):  # anything but y is no; end of input is no
        theirs, ours = both("image", "prune", input=answer)
        assert theirs == (0, WARN + "Total reclaimed space: 0B\n", "")
        assert ours == theirs, answer
    theirs, ours = both("image", "prune", "-a", input="N\n")
    assert ours == theirs and theirs[1].startswith(WARN_ALL)
    theirs, ours = both("image", "prune", input="y\n")
    assert theirs[0] == 0 and "Deleted Images:\ndeleted: sha256:" in theirs[1]
    assert theirs[1].endswith("\n\n" + theirs[1].splitlines()[-1] + "\n")
    assert theirs[1].splitlines()[-1].startswith("Total reclaimed space: ")
    assert ours == theirs  # the same lines: image ID, layer chain IDs, total
    theirs, ours = both("image", "prune", "-f")
    assert ours == theirs == (0, "Total reclaimed space: 0B\n", "")


def test_container_prune_no_exits_zero_like_docker(clean_docker, tmp_path):
    both = Both(clean_docker, tmp_path / "store")
    theirs, ours = both("container", "prune", input="n\n")
    warn = "WARNING! This will remove all stopped containers.\n"
    assert theirs == (
        0,
        warn + "Are you sure you want to continue? [y/N] Total reclaimed space: 0B\n",
        "",
    )
    assert ours == theirs


def _errors(stderr: str, prefix: str) -> list[str]:
    return [ln.removeprefix(prefix).split(": see ")[0] for ln in stderr.splitlines()]


def test_rmi_removes_what_it_can_and_reports_the_rest(clean_docker, fixtures, tmp_path):
    both = _loaded(clean_docker, fixtures, tmp_path)
    both("tag", "local/base:1", "local/r:1")
    args = ("rmi", "local/r:1", "nope", "local/stack:3", "nada:1")
    (drc, dout, derr), (rc, out, err) = both(*args)
    assert dout == out and "Untagged: local/r:1\n" in out and "Deleted: " in out
    assert _errors(derr, "Error: ") == ["No such image: nope", "No such image: nada:1"]
    assert _errors(err, "lamina: error: ") == _errors(derr, "Error: ")
    assert drc == 1 and rc == 3  # lamina: 3 = not found (docker says 1 for everything)


def test_rm_removes_what_it_can_and_reports_the_rest(tmp_path):
    store = tmp_path / "store"
    tar = tmp_path / "t.tar"
    import tarfile

    (tmp_path / "f").write_text("x")
    with tarfile.open(tar, "w") as t:
        t.add(tmp_path / "f", "f")
    assert run_lamina(store, "import", str(tar), "local/one:1").returncode == 0
    for name in ("ca", "cb"):
        assert run_lamina(store, "create", "--name", name, "local/one:1", "true").returncode == 0
    cp = run_lamina(store, "rm", "ca", "nope", "cb")
    assert cp.stdout.decode() == "ca\ncb\n"
    assert cp.stderr.decode().startswith("lamina: error: No such container: nope")
    assert cp.returncode == 3
    assert run_lamina(store, "ps", "-a", "-q").stdout == b""
