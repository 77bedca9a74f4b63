"""Which Docker Engine to talk to, found the way the docker CLI finds it.

In this order: an explicit host (`--docker-host`, `send --to-docker HOST`), else
`DOCKER_HOST`, else the context named by `DOCKER_CONTEXT`, else the current context
of the docker CLI (`currentContext` in `$DOCKER_CONFIG/config.json`, default
`~/.docker`; its endpoint is `contexts/meta/<sha256 of name>/meta.json`
`Endpoints.docker.Host`, TLS files under `contexts/tls/<sha256 of name>/docker/`),
else `unix:///var/run/docker.sock`. The context named `default` means DOCKER_HOST
or the default socket, as for the CLI.

Hosts: `unix:///path`, `tcp://host[:port]` (TLS when `DOCKER_TLS_VERIFY` is set,
with `ca.pem`, `cert.pem`, `key.pem` from `DOCKER_CERT_PATH`, default `~/.docker`;
port 2376 with TLS, else 2375), `ssh://[user@]host[:port]` (see connection.py),
and `npipe://` is refused (Windows only).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lamina.errors import UsageError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class TLSFiles:
    ca: Path | None
    cert: Path | None
    key: Path | None
    verify: bool


@dataclass(frozen=True)
class Endpoint:
    """A parsed Docker host: where and how to connect."""

    host: str  # as given, for messages
    scheme: str  # unix, tcp, ssh
    address: str  # socket path, host name
    port: int | None = None
    user: str | None = None
    tls: TLSFiles | None = None
    source: str = ""  # how it was chosen: option, DOCKER_HOST, context NAME, default

    @property
    def label(self) -> str:
        return self.host


def resolve(explicit: str | None = None) -> Endpoint:
    """The endpoint the docker CLI would use (see module doc); `explicit` wins."""
    if explicit:
        return parse(explicit, "option", _env_tls())
    env_host = os.environ.get("DOCKER_HOST")
    if env_host:
        return parse(env_host, "DOCKER_HOST", _env_tls())
    name = os.environ.get("DOCKER_CONTEXT") or _current_context()
    if name and name != "default":
        return _from_context(name)
    return parse(DEFAULT_SOCKET, "default", None)


def parse(host: str, source: str, tls: TLSFiles | None) -> Endpoint:
    parts = urlsplit(host if "://" in host else f"tcp://{host}")
    scheme = parts.scheme
    if scheme == "unix":
        path = parts.path or parts.netloc
        if not path:
            raise UsageError(f"bad Docker host {host!r}", "use unix:///path/to/docker.sock")
        return Endpoint(host, "unix", path, source=source)
    if scheme in ("tcp", "http", "https"):
        if not parts.hostname:
            raise UsageError(f"bad Docker host {host!r}", "use tcp://HOST:PORT")
        secure = tls is not None or scheme == "https"
        port = parts.port or (2376 if secure else 2375)
        return Endpoint(host, "tcp", parts.hostname, port, tls=tls, source=source)
    if scheme == "ssh":
        if not parts.hostname:
            raise UsageError(f"bad Docker host {host!r}", "use ssh://[USER@]HOST[:PORT]")
        return Endpoint(host, "ssh", parts.hostname, parts.port, parts.username, source=source)
    raise UsageError(
        f"unsupported Docker host {host!r}", "use unix://PATH, tcp://HOST:PORT or ssh://USER@HOST"
    )


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _env_tls() -> TLSFiles | None:
    if not os.environ.get("DOCKER_TLS_VERIFY"):
        return None
    certs = Path(os.environ.get("DOCKER_CERT_PATH") or config_dir())
    return _tls_in(certs, verify=True)


def _tls_in(folder: Path, verify: bool) -> TLSFiles:
    def found(name: str) -> Path | None:
        return folder / name if (folder / name).is_file() else None

    return TLSFiles(found("ca.pem"), found("cert.pem"), found("key.pem"), verify)


def _current_context() -> str | None:
    path = config_dir() / "config.json"
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the docker CLI config {path}: {exc}") from None
    name = doc.get("currentContext") if isinstance(doc, dict) else None
    return name if isinstance(name, str) and name else None


def _from_context(name: str) -> Endpoint:
    key = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir() / "contexts" / "meta" / key / "meta.json"
    try:
        doc = json.loads(meta.read_bytes())
        docker = doc["Endpoints"]["docker"]
        host = docker["Host"]
    except FileNotFoundError:
        raise UsageError(
            f"docker context {name!r} does not exist ({meta} is missing)",
            "see `docker context ls`, or set DOCKER_HOST",
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"docker context {name!r} is unreadable ({meta}: {exc})") from None
    tls_dir = config_dir() / "contexts" / "tls" / key / "docker"
    tls = None
    if tls_dir.is_dir():
        tls = _tls_in(tls_dir, verify=not docker.get("SkipTLSVerify", False))
    return parse(str(host), f"context {name}", tls)
