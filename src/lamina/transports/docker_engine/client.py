"""A small Docker Engine API client: the calls lamina needs, streamed.

Why httpcore and not the Docker SDK: httpcore is already installed (httpx, used for
registries, is built on it), streams request and response bodies without holding
them, and takes a network backend, so unix sockets, TCP+TLS and the docker CLI's
`ssh ... docker system dial-stdio` are one code path (connection.py). The SDK would
add requests, urllib3 and its own ssh adapter for the eight endpoints used here.

The API version is negotiated like the docker CLI does: `GET /_ping` answers the
daemon's version in its `API-Version` header; requests use the lower of that and
MAX_API, and a daemon older than MIN_API is refused.

Calls: ping, info, images (`/images/json?all=1`), inspect (`/images/{name}/json`),
export (`GET /images/get?names=...`, a docker-archive stream), load (`POST
/images/load`, a streamed tar body; the answer is JSON lines, one of which may be an
`errorDetail`), tag (`POST /images/{id}/tag`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

import httpcore

from lamina.errors import DaemonError, NotFoundError
from lamina.transports.docker_engine import connection
from lamina.transports.docker_engine.endpoint import Endpoint, resolve

MIN_API = (1, 24)  # Docker 1.12
MAX_API = (1, 44)  # Docker 25; newer daemons answer this version too
CHUNK = 1 << 20


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor)
    except ValueError:
        return MIN_API


class Engine:
    """One Docker Engine. Use as a context manager; connections close on exit."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.wire = connection.Wire()
        self._pool, self._origin = connection.pool(endpoint, self.wire)
        self.api: tuple[int, int] | None = None

    @classmethod
    def connect(cls, host: str | None = None) -> Engine:
        """The engine `host` names, else the one the docker CLI would use; pinged."""
        engine = cls(resolve(host))
        try:
            engine.ping()
        except BaseException:
            engine.close()
            raise
        return engine

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.close()

    @property
    def label(self) -> str:
        return self.endpoint.label

    # -- transport ---------------------------------------------------------------

    def _url(self, path: str, query: dict[str, Any] | list[tuple[str, str]] | None) -> str:
        prefix = f"/v{self.api[0]}.{self.api[1]}" if self.api else ""
        qs = f"?{urlencode(query)}" if query else ""
        return f"{self._origin}{prefix}{path}{qs}"

    @contextmanager
    def _stream(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | list[tuple[str, str]] | None = None,
        body: Iterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[httpcore.Response]:
        hdrs = {"Host": "docker", "User-Agent": "lamina", **(headers or {})}
        if body is not None:
            hdrs["Transfer-Encoding"] = "chunked"
        try:
            with self._pool.stream(
                method, self._url(path, query), headers=list(hdrs.items()), content=body
            ) as response:
                yield response
        except httpcore.ConnectError as exc:
            raise self._unreachable(exc) from None
        except (httpcore.NetworkError, httpcore.TimeoutException) as exc:
            raise DaemonError(f"the Docker Engine at {self.label} failed: {exc}") from None
        except httpcore.ProtocolError as exc:
            raise DaemonError(
                f"{self.label} does not speak the Docker Engine API ({exc})",
                "is that the right DOCKER_HOST?",
            ) from None

    def _unreachable(self, exc: Exception) -> DaemonError:
        text = str(exc)
        where = f"{self.label} ({self.endpoint.source})"
        if "Permission denied" in text or "Errno 13" in text:
            return DaemonError(
                f"permission denied on the Docker socket {self.endpoint.address}",
                "run as a member of the docker group, or as root",
            )
        return DaemonError(
            f"cannot reach a Docker Engine at {where}: {text}",
            "is dockerd running? set DOCKER_HOST",
            command="or pass --docker-host",
        )

    def _json(self, method: str, path: str, query: dict[str, Any] | None = None) -> Any:
        with self._stream(method, path, query) as r:
            raw = b"".join(r.iter_stream())
            self._check(r, raw, path)
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            raise DaemonError(f"{self.label} answered {path} with something not JSON") from None

    def _check(self, r: httpcore.Response, raw: bytes, what: str) -> None:
        if r.status < 400:
            return
        try:
            message = json.loads(raw).get("message") or raw.decode(errors="replace")
        except (ValueError, AttributeError):
            message = raw.decode(errors="replace").strip()
        if r.status == 404:
            raise NotFoundError(f"the Docker Engine at {self.label}: {message.strip()}")
        raise DaemonError(f"the Docker Engine at {self.label} refused {what}: {message}")

    # -- calls -------------------------------------------------------------------

    def ping(self) -> tuple[int, int]:
        with self._stream("GET", "/_ping") as r:
            raw = b"".join(r.iter_stream())
            self._check(r, raw, "/_ping")
            header = dict((k.lower(), v) for k, v in r.headers).get(b"api-version", b"")
        server = _version(header.decode()) if header else MIN_API
        if server < MIN_API:
            raise DaemonError(
                f"the Docker Engine at {self.label} speaks API {server[0]}.{server[1]}",
                f"lamina needs {MIN_API[0]}.{MIN_API[1]} (Docker 1.12) or newer",
            )
        self.api = min(server, MAX_API)
        return self.api

    def version(self) -> dict[str, Any]:
        doc: dict[str, Any] = self._json("GET", "/version")
        return doc

    def info(self) -> dict[str, Any]:
        doc: dict[str, Any] = self._json("GET", "/info")
        return doc

    def images(self) -> list[dict[str, Any]]:
        """Every image, intermediate ones too (`docker images -a`)."""
        rows: list[dict[str, Any]] = self._json("GET", "/images/json", {"all": "1"})
        return rows

    def inspect(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = self._json("GET", f"/images/{quote(name, safe='')}/json")
        return doc

    def tag(self, image_id: str, name: str) -> None:
        repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
        self._json("POST", f"/images/{image_id}/tag", {"repo": repo, "tag": tag or "latest"})

    def remove(self, name: str) -> None:
        """`docker rmi NAME` (untags; deletes what nothing else needs)."""
        self._json("DELETE", f"/images/{quote(name, safe='')}")

    @contextmanager
    def export(self, names: Iterable[str]) -> Iterator[BinaryIO]:
        """`docker save NAMES...` as a stream to read."""
        query = [("names", n) for n in names]
        with self._stream("GET", "/images/get", query) as r:
            if r.status >= 400:
                self._check(r, b"".join(r.iter_stream()), "the export")
            yield io.BufferedReader(_Reader(r.iter_stream()), CHUNK)

    def load(self, body: Iterator[bytes]) -> list[str]:
        """`docker load` of a streamed tar; returns the lines it printed."""
        headers = {"Content-Type": "application/x-tar"}
        with self._stream("POST", "/images/load", {"quiet": "1"}, body, headers) as r:
            raw = b"".join(r.iter_stream())
            self._check(r, raw, "the archive")
        return _load_lines(raw, self.label)


class _Reader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (a streamed response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf = chunk
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _load_lines(raw: bytes, label: str) -> list[str]:
    """The `stream` lines of a load answer; an `error` line is raised as DaemonError."""
    lines = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            lines.append(line.decode(errors="replace"))
            continue
        error = doc.get("errorDetail", {}).get("message") or doc.get("error")
        if error:
            raise DaemonError(f"the Docker Engine at {label} refused the archive: {error.strip()}")
        text = doc.get("stream", "").strip()
        if text:
            lines.append(text)
    return lines
