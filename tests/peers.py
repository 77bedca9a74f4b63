"""Real peer tools for the tests: a private dockerd, podman/buildah/skopeo, a registry, umoci.

Everything here starts the REAL tool on private sockets and directories and stops it by
the PID it started (never by name). The classes do not need pytest, so the fixture
builder (tests/fixtures/build.py) uses them too; the pytest fixtures at the bottom wrap
them, and tests/conftest.py loads this module as a plugin.

Tests that use a peer fixture are marked ``peer`` automatically; ``pytest -m "not peer"``
runs the rest. A missing tool skips the test, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.fixtures.build import FixtureSet

# Debian package that provides each tool (docs/testing.md §9).
APT_PACKAGE = {
    "docker": "docker.io",
    "dockerd": "docker.io",
    "podman": "podman",
    "buildah": "buildah",
    "skopeo": "skopeo",
    "umoci": "umoci",
    "docker-registry": "docker-registry",
    "sshd": "openssh-server",
    "containerd": "containerd",
    "ctr": "containerd",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "busybox": "busybox-static",
    "runc": "runc",
    "debootstrap": "debootstrap",
}
BLOB_INFO_CACHE = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")
Cmd = Sequence[str | os.PathLike[str]]


class PeerError(RuntimeError):
    """A peer tool is missing, failed to start, or a command of it failed."""


# --------------------------------------------------------------------------- tools
def find_tool(name: str) -> str:
    """Absolute path of a peer tool, or PeerError naming the Debian package to install."""
    if name == "docker" and os.access("/usr/bin/docker", os.X_OK):
        return "/usr/bin/docker"  # docker.io's own client, same version as its dockerd
    path = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if path is None:
        raise PeerError(f"needs {name}: apt-get install {APT_PACKAGE.get(name, name)}")
    return path


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def require(name: str) -> str:
    """Path of tool `name`; skip the test when it is missing (fail under CI=true)."""
    try:
        return find_tool(name)
    except PeerError as e:
        if in_ci():
            pytest.fail(f"{e} (CI=true: peer tools must be installed)", pytrace=False)
        pytest.skip(str(e))


def _tail(text: str | bytes | None, lines: int = 30) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    cmd: Cmd,
    *,
    env: dict[str, str] | None = None,
    input: str | bytes | None = None,
    check: bool = True,
    text: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[Any]:
    """Run a command, capturing output; with check, PeerError shows the command + stderr."""
    argv = [os.fspath(c) for c in cmd]
    if isinstance(input, bytes):
        text = False
    try:
        cp = subprocess.run(
            argv, env=env, input=input, capture_output=True, text=text, cwd=cwd, timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        raise PeerError(f"timed out after {timeout}s: {shlex.join(argv)}") from e
    except FileNotFoundError as e:
        raise PeerError(f"cannot run {argv[0]}: {e}") from e
    if check and cp.returncode != 0:
        raise PeerError(
            f"command failed (exit {cp.returncode}): {shlex.join(argv)}\n"
            f"{_tail(cp.stderr) or _tail(cp.stdout)}"
        )
    return cp


# ------------------------------------------------------------------ processes & dirs
class Process:
    """A daemon we started in its own session; stopped by its PID (then its group)."""

    def __init__(
        self,
        argv: Cmd,
        log_path: Path,
        env: dict[str, str] | None = None,
        stdout_path: Path | None = None,
    ) -> None:
        """Output goes to `log_path`; stdout alone to `stdout_path` when given."""
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = log_path
        self._files: list[IO[bytes]] = [open(log_path, "ab")]  # noqa: SIM115 (closed in stop)
        if stdout_path is not None:
            self._files.append(open(stdout_path, "ab"))  # noqa: SIM115
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._files[-1],
            stderr=self._files[0],
            env=env,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return _tail(self.log_path.read_bytes(), lines)
        except OSError:
            return ""

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        # Stragglers in the session we created (its process group id is our pid).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for f in self._files:
            f.close()


def short_tempdir(prefix: str) -> Path:
    """A short private dir under /tmp (unix socket paths must stay below 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")  # \040 -> space
            if point.startswith(prefix):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_tree(root: Path) -> None:
    """Unmount whatever a tool left mounted below `root`, then delete it."""
    if os.geteuid() == 0:
        for point in _mounts_under(root):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


KEPT_LOGS = Path(tempfile.gettempdir()) / "lamina-peer-logs"


def keep_log(log: Path) -> Path:
    """Copy a daemon's log out of its private dir (which is removed) for later reading."""
    KEPT_LOGS.mkdir(exist_ok=True)
    kept = KEPT_LOGS / f"{log.parent.name}-{log.name}"
    with contextlib.suppress(OSError):
        shutil.copyfile(log, kept)
    return kept


def wait_until(ready: Callable[[], bool], proc: Process, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not proc.alive():
            raise PeerError(
                f"{what} exited with {proc.popen.returncode} while starting: "
                f"{shlex.join(proc.argv)}\n--- log tail ---\n{proc.log_tail()}"
            )
        time.sleep(0.1)
    proc.stop()
    raise PeerError(
        f"{what} not ready after {timeout}s: {shlex.join(proc.argv)}\n"
        f"--- log tail ---\n{proc.log_tail()}"
    )


# --------------------------------------------------------------------------- docker
class Docker:
    """A private dockerd (vfs, no iptables, no bridge, cgroupfs) and a client bound to it."""

    def __init__(self, root: Path, proc: Process, cli: str) -> None:
        self.root = root
        self.proc = proc
        self.cli = cli
        self.sock = root / "docker.sock"
        self.env = dict(os.environ)
        self.env.update(DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=str(root / "client"))

    @classmethod
    def start(cls, timeout: float | None = None, attempts: int = 2) -> Docker:
        """Start a private dockerd and wait for its socket to answer /_ping, with a bound
        generous enough for a loaded machine (LAMINA_DOCKERD_TIMEOUT, default 180 s).
        A daemon that does not come up is stopped, its log kept (KEPT_LOGS) and its tail
        reported; one more fresh daemon is tried before giving up."""
        bound = timeout or float(os.environ.get("LAMINA_DOCKERD_TIMEOUT", "180"))
        failures = []
        for _ in range(attempts):
            try:
                return cls._start_once(bound)
            except PeerError as e:
                failures.append(str(e))
        raise PeerError("\n\n".join(failures))

    @classmethod
    def _start_once(cls, timeout: float) -> Docker:
        dockerd, cli = find_tool("dockerd"), find_tool("docker")
        root = short_tempdir("ld")
        (root / "daemon.json").write_text("{}\n")
        (root / "client").mkdir()
        # containerd identifiers are alnum runs joined by . _ -; mkdtemp names may end in "_"
        ns = "lamina-" + root.name.replace("_", "x")
        argv: list[str | os.PathLike[str]] = [
            dockerd,
            *("--config-file", root / "daemon.json"),
            *("--data-root", root / "root", "--exec-root", root / "exec"),
            *("-H", f"unix://{root}/docker.sock", "--pidfile", root / "docker.pid"),
            *("--storage-driver", "vfs", "--iptables=false", "--ip6tables=false"),
            *("--bridge=none", "--userland-proxy=false"),
            *("--exec-opt", "native.cgroupdriver=cgroupfs"),
            # Own containerd namespaces: safe even if a system containerd is shared.
            *("--containerd-namespace", ns, "--containerd-plugins-namespace", f"{ns}-p"),
        ]
        proc = Process(argv, root / "dockerd.log")
        docker = cls(root, proc, cli)
        try:
            wait_until(docker._ready, proc, "dockerd", timeout)
        except PeerError as e:
            kept = keep_log(proc.log_path)
            docker.stop()
            raise PeerError(f"{e}\n(whole log kept at {kept})") from None
        except BaseException:
            docker.stop()
            raise
        return docker

    def _ready(self) -> bool:
        """Does the daemon answer GET /_ping on its socket? (cheap: no client process)"""
        if not self.sock.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(str(self.sock))
                s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                answer = s.recv(64)
        except OSError:
            return False
        return answer.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))

    def run(
        self,
        *args: str | os.PathLike[str],
        input: str | bytes | None = None,
        check: bool = True,
        text: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[Any]:
        """`docker ARGS...` against this daemon."""
        return run(
            [self.cli, *args], env=self.env, input=input, check=check, text=text, timeout=timeout
        )

    def reset(self) -> None:
        """Remove every container and image: an empty daemon."""
        ids = self.run("ps", "-aq").stdout.split()
        if ids:
            self.run("rm", "-f", *ids)
        for _ in range(20):  # children before parents: `docker load` keeps parent links
            images = list(dict.fromkeys(self.run("images", "-aq").stdout.split()))
            if not images:
                return
            self.run("rmi", "-f", *images, check=False)
        raise PeerError(f"docker rmi left images behind: {self.run('images', '-a').stdout}")

    def stop(self) -> None:
        self.proc.stop()
        remove_tree(self.root)


# --------------------------------------------------------------------------- podman
CONTAINERS_CONF = """\
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "{root}/tmp"
volume_path = "{root}/volumes"
image_copy_tmp_dir = "{root}/copytmp"
"""
STORAGE_CONF = """\
[storage]
driver = "{driver}"
graphroot = "{root}/graph"
runroot = "{root}/run"
"""
REGISTRIES_CONF = """\
unqualified-search-registries = []
short-name-mode = "permissive"
"""


class Podman:
    """podman, buildah and skopeo on a private containers-storage (vfs or overlay)."""

    TOOLS = ("podman", "buildah", "skopeo")

    def __init__(self, root: Path, driver: str) -> None:
        self.root = root
        self.driver = driver
        for sub in ("tmp", "volumes", "copytmp"):
            (root / sub).mkdir()
        files = {
            "containers.conf": CONTAINERS_CONF.format(root=root),
            "storage.conf": STORAGE_CONF.format(root=root, driver=driver),
            "registries.conf": REGISTRIES_CONF,
        }
        for name, body in files.items():
            (root / name).write_text(body)
        self.env = dict(os.environ)
        self.env.update(
            CONTAINERS_CONF=str(root / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(root / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=str(root / "registries.conf"),
            BUILDAH_ISOLATION="chroot",
            TMPDIR=str(root / "tmp"),
        )

    @classmethod
    def start(cls, driver: str = "vfs") -> Podman:
        for tool in cls.TOOLS:
            find_tool(tool)
        # skopeo/podman remember blobs globally; start from what this run makes.
        with contextlib.suppress(FileNotFoundError):
            BLOB_INFO_CACHE.unlink()
        return cls(short_tempdir("lp"), driver)

    def run(
        self,
        tool: str,
        *args: str | os.PathLike[str],
        input: str | bytes | None = None,
        check: bool = True,
        text: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[Any]:
        """`TOOL ARGS...` (podman, buildah or skopeo) on this private storage."""
        if tool not in self.TOOLS:
            raise ValueError(f"Podman.run: tool must be one of {self.TOOLS}, not {tool!r}")
        return run(
            [find_tool(tool), *args],
            env=self.env,
            input=input,
            check=check,
            text=text,
            timeout=timeout,
        )

    def reset(self) -> None:
        """Remove every container (podman and buildah) and image: an empty storage."""
        self.run("podman", "rm", "-a", "-f", check=False)
        self.run("buildah", "rm", "--all", check=False)
        if self.run("podman", "rmi", "-a", "-f", check=False).returncode != 0:
            self.run("podman", "system", "reset", "-f")

    def stop(self) -> None:
        self.run("podman", "rm", "-a", "-f", check=False, timeout=60)
        self.run("buildah", "rm", "--all", check=False, timeout=60)
        remove_tree(self.root)


# ------------------------------------------------------------------------- registry
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bcrypt_hash(password: str, cost: int = 5) -> str:
    """bcrypt hash for an htpasswd line (the registry accepts only bcrypt).

    Uses the `bcrypt` module if installed, else libxcrypt (Debian's libcrypt.so.1, which
    implements $2b$), else `htpasswd` from apache2-utils.
    """
    with contextlib.suppress(ImportError):
        import bcrypt  # type: ignore[import-not-found,unused-ignore]

        return str(bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode())
    lib_name = ctypes.util.find_library("crypt")
    if lib_name:
        lib = ctypes.CDLL(lib_name)
        if hasattr(lib, "crypt_gensalt"):
            text = ctypes.c_char_p
            lib.crypt_gensalt.restype = text
            lib.crypt_gensalt.argtypes = [text, ctypes.c_ulong, text, ctypes.c_int]
            lib.crypt.restype = text
            lib.crypt.argtypes = [text, text]
            salt = lib.crypt_gensalt(b"$2b$", cost, None, 0)  # NULL: libxcrypt reads urandom
            hashed = lib.crypt(password.encode(), salt) if salt else None
            if hashed and hashed.startswith(b"$2"):
                return str(hashed.decode())
    if shutil.which("htpasswd"):
        line = run(["htpasswd", "-nbB", "-C", str(cost), "u", password]).stdout.strip()
        return str(line.split(":", 1)[1])
    raise PeerError("needs bcrypt: pip install bcrypt, or apt-get install apache2-utils")


REGISTRY_CONF = """\
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {host}
  secret: {secret}
{auth}"""
ACCESS_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')


class Registry:
    """A private distribution registry on 127.0.0.1:<free port>."""

    def __init__(self, home: Path, host: str, proc: Process, auth: tuple[str, str] | None):
        self.home = home  # config, logs and storage
        self.root = home / "data"  # the registry's storage (rootdirectory)
        self.host = host
        self.url = f"http://{host}"
        self.proc = proc
        self.auth = auth
        # docker-registry writes the combined-format access log on stdout, the rest on
        # stderr: keep them apart so counting requests never sees a line twice.
        self.log_path = home / "access.log"
        self.app_log_path = home / "registry.log"

    @classmethod
    def start(cls, htpasswd: tuple[str, str] | None = None, timeout: float = 15) -> Registry:
        binary = find_tool("docker-registry")
        root = short_tempdir("lr")
        auth = ""
        if htpasswd is not None:
            user, password = htpasswd
            (root / "htpasswd").write_text(f"{user}:{bcrypt_hash(password)}\n")
            auth = f"auth:\n  htpasswd:\n    realm: lamina-test\n    path: {root}/htpasswd\n"
        for attempt in range(5):
            host = f"127.0.0.1:{free_port()}"
            conf = root / "config.yml"
            conf.write_text(REGISTRY_CONF.format(root=root, host=host, auth=auth, secret=secret()))
            proc = Process(
                [binary, "serve", conf], root / "registry.log", stdout_path=root / "access.log"
            )
            registry = cls(root, host, proc, htpasswd)
            try:
                wait_until(registry._ready, proc, "docker-registry", timeout)
                return registry
            except PeerError:
                proc.stop()
                if "address already in use" not in proc.log_tail() or attempt == 4:
                    remove_tree(root)
                    raise
        raise AssertionError("unreachable")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as r:
                return int(r.status) == 200
        except urllib.error.HTTPError as e:
            return e.code == 401
        except OSError:
            return False

    def auth_header(self) -> dict[str, str]:
        if self.auth is None:
            return {}
        token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request so far, from the access log."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            m = ACCESS_LINE.search(line)
            if m:
                found.append((m.group(1), m.group(2), int(m.group(3))))
        return found

    def count(self, method: str, path_contains: str = "") -> int:
        """How many `method` requests hit a path containing `path_contains`."""
        return sum(1 for m, p, _ in self.requests() if m == method and path_contains in p)

    def upload_starts(self) -> int:
        """Blob uploads started (`POST /v2/<name>/blobs/uploads/`, mounts included)."""
        return self.count("POST", "/blobs/uploads/")

    def stop(self) -> None:
        self.proc.stop()
        remove_tree(self.home)


# ---------------------------------------------------------------------------- umoci
class Umoci:
    """Runs umoci (stateless: layouts are plain directories)."""

    def __init__(self) -> None:
        self.path = find_tool("umoci")

    def run(
        self, *args: str | os.PathLike[str], check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[Any]:
        return run([self.path, *args], check=check, cwd=cwd)

    __call__ = run


# ---------------------------------------------------------------------------- pytest
PEER_FIXTURES = frozenset(
    {"docker", "clean_docker", "podman", "clean_podman", "registry", "start_registry"}
    | {"umoci", "fixtures", "sshd", "containerd"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a peer fixture as `peer`."""
    for item in items:
        if PEER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.peer)


def _started(factory: Callable[[], Any], tools: Sequence[str]) -> Any:
    for tool in tools:
        require(tool)
    try:
        return factory()
    except PeerError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def docker() -> Iterator[Docker]:
    """A private dockerd for the whole session (shared: don't assume it is empty)."""
    d: Docker = _started(Docker.start, ("dockerd", "docker"))
    yield d
    d.stop()


@pytest.fixture
def clean_docker(docker: Docker) -> Docker:
    """The session dockerd, emptied before the test."""
    docker.reset()
    return docker


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    """podman/buildah/skopeo on a private vfs storage for the whole session."""
    p: Podman = _started(Podman.start, (*Podman.TOOLS, "runc"))
    yield p
    p.stop()


@pytest.fixture
def clean_podman(podman: Podman) -> Podman:
    """The session podman storage, emptied before the test."""
    podman.reset()
    return podman


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """A private registry (no auth) for the whole session."""
    r: Registry = _started(Registry.start, ("docker-registry",))
    yield r
    r.stop()


@pytest.fixture
def start_registry() -> Iterator[Callable[..., Registry]]:
    """Factory: start_registry(htpasswd=("user", "pw")) -> a registry stopped after the test."""
    started: list[Registry] = []

    def start(htpasswd: tuple[str, str] | None = None) -> Registry:
        r: Registry = _started(lambda: Registry.start(htpasswd=htpasswd), ("docker-registry",))
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


@pytest.fixture(scope="session")
def umoci() -> Umoci:
    require("umoci")
    return Umoci()


@pytest.fixture(scope="session")
def fixtures() -> FixtureSet:
    """Archives made by the real tools (built once, cached in $LAMINA_FIXTURES)."""
    from tests.fixtures import build

    cached = build.load(build.cache_dir())
    if cached is not None:
        return cached
    for tool in build.TOOLS:
        require(tool)
    try:
        return build.ensure()
    except PeerError as e:
        pytest.fail(f"building the fixtures failed: {e}", pytrace=False)


def secret(n: int = 12) -> str:
    """A random password for auth tests."""
    return secrets.token_urlsafe(n)
