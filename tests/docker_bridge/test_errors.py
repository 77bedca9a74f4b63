"""Each failure is one line with its exit code, and nothing is written on either side:
daemon unreachable, socket permission denied, ssh failing, image not there, the
daemon refusing the archive, a layer going bad in the middle of a send."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import lamina
from lamina.errors import DaemonError
from lamina.transports.docker_engine.body import body_of
from lamina.transports.docker_engine.client import Engine
from lamina.transports.docker_engine.endpoint import resolve
from tests.builders import store_files
from tests.docker_bridge.conftest import SSHD
from tests.docker_bridge.conftest import lamina as run_lamina
from tests.fixtures.build import FixtureSet
from tests.peers import Docker, free_port


@pytest.fixture
def seeded(fixtures: FixtureSet, tmp_path: Path) -> Path:
    store = tmp_path / "store"
    lamina.load(lamina.open_store(store), str(fixtures["docker-legacy-multi"].path))
    return store


def one_line_error(cp: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert cp.returncode == code, cp.stderr
    lines = cp.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lamina: error: "), cp.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_unreachable_daemon(seeded: Path, tmp_path: Path) -> None:
    before = store_files(seeded)
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    for args in (
        ("load", "docker-daemon:local/stack:3"),
        ("send", "local/stack:3", "--to-docker"),
        ("squash", "docker-daemon:local/stack:3"),
        ("inventory", "--docker"),
    ):
        one_line_error(run_lamina(seeded, *args, env=env, check=False), 10, "cannot reach")
    assert store_files(seeded) == before


def test_image_not_in_the_daemon(clean_docker: Docker, seeded: Path) -> None:
    before = store_files(seeded)
    cp = run_lamina(seeded, "load", "docker-daemon:local/nope:1", env=clean_docker.env, check=False)
    one_line_error(cp, 3, "local/nope:1", "no such image")
    cp = run_lamina(
        seeded, "squash", "docker-daemon:local/nope:1", env=clean_docker.env, check=False
    )
    one_line_error(cp, 3, "local/nope:1")
    cp = run_lamina(
        seeded, "send", "local/nope:9", "--to-docker", env=clean_docker.env, check=False
    )
    assert cp.returncode == 3
    assert store_files(seeded) == before
    assert clean_docker.run("images", "-aq").stdout.split() == []


def test_ssh_that_fails(clean_docker: Docker, sshd: SSHD, seeded: Path, tmp_path: Path) -> None:
    env = sshd.env()
    env["LAMINA_SSH_COMMAND"] += f" -o UserKnownHostsFile={tmp_path}/empty"  # host key unknown
    cp = run_lamina(seeded, "send", "local/stack:3", "--to-docker", sshd.host, env=env, check=False)
    one_line_error(cp, 10, "ssh to", "Host key verification failed")
    cp = run_lamina(
        seeded,
        "--docker-host",
        f"ssh://root@127.0.0.1:{free_port()}",
        "load",
        "docker-daemon:x",
        env=sshd.env(),
        check=False,
    )
    one_line_error(cp, 10, "ssh to")
    assert clean_docker.run("images", "-aq").stdout.split() == []


def test_daemon_refusing_the_archive(clean_docker: Docker, seeded: Path, tmp_path: Path) -> None:
    """A delta whose base the daemon lacks: the daemon's errorDetail, one line, nothing loaded."""
    store = lamina.open_store(seeded)
    delta = tmp_path / "delta.tar"
    lamina.api.delta.save_delta(store, ["local/stack:3"], delta, exclude_base=True)

    def write(out: object) -> None:
        with open(delta, "rb") as f:
            shutil.copyfileobj(f, out)  # type: ignore[arg-type]

    with Engine(resolve(f"unix://{clean_docker.sock}")) as engine:
        engine.ping()
        with pytest.raises(DaemonError, match=r"refused the archive: ") as err:
            engine.load(body_of(write))
    assert "\n" not in str(err.value)
    assert clean_docker.run("images", "-aq").stdout.split() == []


def test_a_layer_going_bad_during_a_send_loads_nothing(clean_docker: Docker, seeded: Path) -> None:
    store = lamina.open_store(seeded)
    top = store.images()[0].image.layers[-1]
    for img in store.images():
        if img.names == ("local/stack:3",):
            top = img.image.layers[-1]
    path = store.layer_path(top.diff_id)
    data = bytearray(path.read_bytes())
    data[600] ^= 0xFF  # inside the first file's content
    path.write_bytes(bytes(data))
    cp = run_lamina(
        seeded, "send", "local/stack:3", "--to-docker", env=clean_docker.env, check=False
    )
    assert cp.returncode != 0 and cp.stderr.count("\n") == 1, cp.stderr
    assert clean_docker.run("images", "-aq").stdout.split() == []


def test_permission_denied_on_the_socket(clean_docker: Docker, seeded: Path) -> None:
    python = "/usr/bin/python3.11"
    if not (shutil.which("setpriv") and os.access(python, os.X_OK)) or os.getuid() != 0:
        pytest.skip("needs root, setpriv and the system python3.11 to run as nobody")
    site = next(Path(lamina.__file__).parents[2].glob(".venv/lib/python3.11/site-packages"), None)
    if site is None:
        pytest.skip("needs the worktree's venv")
    root = clean_docker.sock.parent
    mode = root.stat().st_mode
    root.chmod(0o711)  # nobody may reach the socket's directory, not the socket
    try:
        cp = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                python,
                "-m",
                "lamina",
                "--store",
                "/nonexistent/store",
                "--docker-host",
                f"unix://{clean_docker.sock}",
                "inventory",
                "--docker",
            ],
            env={"PYTHONPATH": f"{Path(lamina.__file__).parents[1]}:{site}", "HOME": "/tmp"},
            capture_output=True,
            text=True,
        )
    finally:
        root.chmod(mode & 0o7777)
    one_line_error(cp, 10, "permission denied", str(clean_docker.sock))


def test_inventory_is_what_docker_says(clean_docker: Docker, fixtures: FixtureSet) -> None:
    clean_docker.run("load", "-i", str(fixtures["docker-legacy-multi"].path))
    inv = lamina.api.docker.inventory(f"unix://{clean_docker.sock}")
    for image in inv.images:
        out = clean_docker.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", image.id)
        assert image.chain_id == lamina.digest.chain_ids(json.loads(out.stdout))[-1]
    with Engine.connect(f"unix://{clean_docker.sock}") as engine:
        assert lamina.api.docker.store_kind(engine.info()) == "classic"
