"""`lamina run`: the image's environment, user and working directory, exit codes, --rm,
a running container in `ps`, `rm -f` of it, and a clear refusal without root.

The base is the demo's: busybox-static in a rootfs built in Python, imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamina.cli import demo_base
from tests.lamina_cli import run_lamina
from tests.lifecycle.helpers import out

BUSYBOX = demo_base.static_busybox()
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="lamina run needs root")
needs_busybox = pytest.mark.skipif(BUSYBOX is None, reason="needs busybox-static")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    s = tmp_path / "s"
    demo_base.write_base_tar(tmp_path / "base.tar", BUSYBOX)
    out(s, "import", "-c", "ENV PATH=/bin", "-c", 'CMD ["/bin/sh"]', str(tmp_path / "base.tar"),
        "base:1")  # fmt: skip
    return s


@root_only
@needs_busybox
def test_run_environment_and_exit_code(store):
    script = 'echo "$PATH $HOSTNAME $HOME"; pwd; id -u; cat /proc/1/cmdline; exit 7'
    cp = run_lamina(store, "run", "--name", "r1", "base:1", "sh", "-c", script)
    assert cp.returncode == 7, cp.stderr
    lines = cp.stdout.decode().splitlines()
    short = json.loads(out(store, "ps", "-a", "--json"))[0]["Id"][:12]
    assert lines[0] == f"/bin {short} /root"
    assert lines[1:3] == ["/", "0"]
    assert lines[3].startswith("sh")  # the command is PID 1 of its own namespace
    assert json.loads(out(store, "ps", "-a", "--json"))[0]["Status"].startswith("Exited (7)")
    cp = run_lamina(store, "run", "base:1", "nosuchcommand")
    assert cp.returncode == 127 and b"executable file not found" in cp.stderr


@root_only
@needs_busybox
def test_run_user_workdir_commit_and_rm(store, tmp_path):
    out(store, "create", "--name", "cfg", "base:1")
    out(store, "commit", "-c", "WORKDIR /srv/app", "-c", "USER 1000:1000", "-c", "ENV X=1",
        "cfg", "base:cfg")  # fmt: skip
    cp = run_lamina(store, "run", "--rm", "base:cfg", "sh", "-c", "pwd; id -u; id -g; echo $X")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.decode().split() == ["/srv/app", "1000", "1000", "1"]
    assert out(store, "ps", "-a", "-q").split() == [
        json.loads(out(store, "ps", "-a", "--json"))[0]["Id"][:12]
    ]  # --rm removed the run's container, `cfg` remains
    cmd = "rm /bin/ls; mkdir /d; echo x > /d/f"
    out(store, "run", "--name", "worker", "base:1", "sh", "-c", cmd)
    out(store, "commit", "worker", "base:2")
    rows = json.loads(out(store, "history", "--json", "base:2"))
    assert rows[0]["CreatedBy"] == f"sh -c {cmd}"
    out(store, "run", "--name", "check", "base:2", "sh", "-c", "test ! -e /bin/ls && cat /d/f")
    mounts = Path("/proc/mounts").read_text()
    assert str(store) not in mounts  # /proc and /dev went with the container's namespace


@root_only
@needs_busybox
def test_running_container_ps_and_rm_force(store):
    cmd = [sys.executable, "-m", "lamina", "--store", str(store), "run", "--name", "long",
           "base:1", "sleep", "60"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if "long" in out(store, "ps"):
                break
            time.sleep(0.1)
        row = json.loads(out(store, "ps", "--json"))[0]
        assert row["Names"] == ["long"] and row["Status"].startswith("Up")
        cp = run_lamina(store, "rm", "long")
        assert cp.returncode == 4 and b"running container" in cp.stderr
        image_id = json.loads(out(store, "inspect", "base:1"))[0]["Id"]
        cp = run_lamina(store, "rmi", "-f", image_id[7:19])
        assert (
            cp.returncode == 4
            and b"(cannot be forced) - image is being used by running" in cp.stderr
        )
        assert out(store, "rmi", "-f", "base:1") == "Untagged: base:1\n"  # the image stays
        assert out(store, "rm", "-f", "long").strip() == "long"
        assert proc.wait(timeout=20) != 0
    finally:
        proc.kill()
    assert out(store, "ps", "-a", "-q") == ""


def test_run_needs_root(store, monkeypatch, capsys):
    from lamina.cli import main

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["--store", str(store), "run", "base:1", "true"]) == 9
    err = capsys.readouterr().err
    assert "needs root" in err and "lamina cp" in err and len(err.strip().splitlines()) == 1
    assert main(["--store", str(store), "ps", "-a", "-q"]) == 0
    assert capsys.readouterr().out == ""  # nothing was created


def test_demo_without_root(tmp_path):
    """The README's command on a machine where we are not root: create + cp instead of run."""
    code = (
        "import os; os.geteuid = lambda: 1000\n"
        "from lamina.cli import main\nraise SystemExit(main(['demo']))"
    )
    cp = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, cwd=tmp_path, timeout=300
    )
    text = cp.stdout.decode()
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    for expected in (
        "$ lamina cp file1 stacking:/file1",
        "$ lamina rmi local/stack:2\nUntagged: local/stack:2\n",
        "Imported from -",
        "== 6.",
        "== 7.",
    ):
        assert expected in text
    assert text.count("\nfile") >= 4  # file1..file4 in the last container
    assert "$ lamina run " not in text


@root_only
@needs_busybox
def test_demo_as_root_runs_containers(tmp_path):
    cp = subprocess.run(
        [sys.executable, "-m", "lamina", "demo", "--keep"],
        capture_output=True,
        cwd=tmp_path,
        timeout=300,
    )
    text = cp.stdout.decode()
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    assert "$ lamina run --name stacking local/base:1 sh -c 'echo 1 > /file1'" in text
    assert "Untagged: local/stack:3\nDeleted: sha256:" in text
    kept = Path(text.rsplit("The demo's files are in ", 1)[1].strip())
    assert (kept / "alice" / "index.json").exists()
    subprocess.run(["rm", "-rf", str(kept)], check=True)
