"""A real OpenSSH server in front of the session's private dockerd, and helpers.

The sshd listens on a free loopback port with its own host key, takes one generated
client key for root (PermitRootLogin prohibit-password), and its `SetEnv
DOCKER_HOST=unix://...` points the remote `docker system dial-stdio` at the test's
daemon. lamina reaches it as ssh://root@127.0.0.1:PORT with LAMINA_SSH_COMMAND
set to `ssh -F CONFIG`; CONFIG routes through count_proxy.py, which logs the bytes
that crossed the wire. Stopped by PID.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import (
    Docker,
    Process,
    _started,
    find_tool,
    free_port,
    remove_tree,
    run,
    short_tempdir,
)

HERE = Path(__file__).parent


@dataclass
class SSHD:
    root: Path
    port: int
    proc: Process
    docker: Docker

    @property
    def host(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    @property
    def wire_log(self) -> Path:
        return self.root / "wire.log"

    def env(self) -> dict[str, str]:
        env = dict(self.docker.env)
        env.pop("DOCKER_HOST", None)
        env["LAMINA_SSH_COMMAND"] = f"ssh -F {self.root / 'ssh_config'}"
        return env

    def wire_bytes(self) -> int:
        """Bytes both ways over every ssh connection since the last call."""
        total = 0
        for log in self.root.glob(f"{self.wire_log.name}.*"):
            proxy = Path("/proc") / log.suffix[1:]
            for _ in range(50):  # its last count is written when its connection ends
                if not proxy.exists():
                    break
                time.sleep(0.1)
            total += sum(int(n) for n in log.read_text().split())
            log.unlink()
        return total


def _ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@pytest.fixture(scope="session")
def sshd(docker: Docker) -> Iterator[SSHD]:
    sshd_bin = _started(lambda: find_tool("sshd"), ("sshd", "ssh", "ssh-keygen"))
    root = short_tempdir("ls")
    for key in ("host_key", "client_key"):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / key)])
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    port = free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\n"
        f"PidFile {root / 'sshd.pid'}\nAuthorizedKeysFile {root / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"SetEnv DOCKER_HOST=unix://{docker.sock}\n"
    )
    host_pub = (root / "host_key.pub").read_text().split()[:2]
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_pub)}\n")
    (root / "ssh_config").write_text(
        "Host *\n"
        f"  IdentityFile {root / 'client_key'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {root / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n  LogLevel ERROR\n"
        f"  ProxyCommand {sys.executable} {HERE / 'count_proxy.py'} %h %p {root / 'wire.log'}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    proc = Process([sshd_bin, "-D", "-e", "-f", root / "sshd_config"], root / "sshd.log")
    try:
        for _ in range(100):
            if _ready(port) or not proc.alive():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        if not _ready(port):
            pytest.fail(f"sshd did not start:\n{proc.log_tail()}", pytrace=False)
        yield SSHD(root, port, proc, docker)
    finally:
        proc.stop()
        remove_tree(root)


@dataclass
class Containerd:
    """A private containerd 1.6: the stand-in for Docker's containerd image store."""

    root: Path
    proc: Process

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        sock = str(self.root / "c.sock")
        return subprocess.run(
            ["ctr", "--address", sock, "-n", "test", *args], capture_output=True, text=True
        )


@pytest.fixture
def containerd() -> Iterator[Containerd]:
    binary = _started(lambda: find_tool("containerd"), ("containerd", "ctr"))
    root = short_tempdir("lc")
    (root / "config.toml").write_text(
        f'version = 2\nroot = "{root}/root"\nstate = "{root}/state"\n'
        f'[grpc]\n  address = "{root}/c.sock"\n'
        '[plugins."io.containerd.grpc.v1.cri"]\n  disable = true\n'
    )
    proc = Process([binary, "--config", root / "config.toml"], root / "containerd.log")
    daemon = Containerd(root, proc)
    try:
        for _ in range(100):
            if daemon.ctr("version").returncode == 0 or not proc.alive():
                break
            time.sleep(0.1)
        if daemon.ctr("version").returncode != 0:
            pytest.fail(f"containerd did not start:\n{proc.log_tail()}", pytrace=False)
        yield daemon
    finally:
        proc.stop()
        remove_tree(root)


def lamina(
    store: Path, *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`lamina --store STORE ARGS...` with `env` (DOCKER_HOST and friends)."""
    cp = subprocess.run(
        [sys.executable, "-m", "lamina", "--store", str(store), *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if check and cp.returncode != 0:
        raise AssertionError(f"lamina {' '.join(args)} exited {cp.returncode}:\n{cp.stderr}")
    return cp
