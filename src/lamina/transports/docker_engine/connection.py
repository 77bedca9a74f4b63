"""Byte streams to a Docker Engine, for httpcore to speak HTTP/1.1 over.

httpcore (already here under httpx, for registries) takes a *network backend*: a
thing that opens streams. The one here opens, per endpoint kind:
- unix: the socket (httpcore's own backend);
- tcp: a TCP connection, TLS-wrapped by httpcore when the endpoint has TLS files;
- ssh: `ssh [-l USER] [-p PORT] -T -- HOST docker system dial-stdio`, the same
  command the docker CLI runs, and the stream is that process's stdin/stdout. The
  ssh program is `$LAMINA_SSH_COMMAND` (split like a shell would), default `ssh`,
  so options such as `-F CONFIG` or `-i KEY` can be given without touching ~/.ssh.
Every stream counts the bytes it moves (Wire), which is how `send` reports what
crossed the wire. An ssh that exits early is reported with its last stderr line.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import ssl
import subprocess
import threading
import typing
from dataclasses import dataclass

import httpcore

from lamina.errors import DaemonError
from lamina.transports.docker_engine.endpoint import Endpoint

CONNECT_TIMEOUT = 30


@dataclass
class Wire:
    """Bytes moved over every stream of one client (HTTP headers included)."""

    sent: int = 0
    received: int = 0


class CountingStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, wire: Wire) -> None:
        self.inner = inner
        self.wire = wire

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self.inner.read(max_bytes, timeout)
        self.wire.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, timeout)
        self.wire.sent += len(buffer)

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self.inner.start_tls(ssl_context, server_hostname, timeout)
        return CountingStream(inner, self.wire)

    def get_extra_info(self, info: str) -> typing.Any:
        return self.inner.get_extra_info(info)


class SSHStream(httpcore.NetworkStream):
    """HTTP over the pipes of `ssh HOST docker system dial-stdio`."""

    def __init__(self, argv: list[str], host: str) -> None:
        self.host = host
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise DaemonError(f"cannot run {argv[0]}: {exc.strerror}", "install OpenSSH") from None
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stderr: list[bytes] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            del self.stderr[:-20]

    def _failed(self) -> DaemonError:
        status = self.proc.wait()
        self._drain.join(5)
        lines = [x.decode(errors="replace").strip() for x in self.stderr if x.strip()]
        why = lines[-1] if lines else f"ssh exited with status {status}"
        return DaemonError(
            f"ssh to {self.host} failed: {why}",
            "check `ssh HOST docker version` works (keys, host key, docker on its PATH)",
        )

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise httpcore.ReadTimeout(f"no answer from {self.host} in {timeout} s")
        data = os.read(fd, max_bytes)
        if not data:  # ssh is gone: its status and stderr say why
            try:
                status = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                return data
            if status != 0:
                raise self._failed()
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(buffer)
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise self._failed() from None

    def close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # only the ssh we started, by its PID
            self.proc.wait()

    def get_extra_info(self, info: str) -> typing.Any:
        return None


class Backend(httpcore.NetworkBackend):
    """Opens streams to one endpoint, whatever host httpcore asks for."""

    def __init__(self, endpoint: Endpoint, wire: Wire) -> None:
        self.endpoint = endpoint
        self.wire = wire
        self.plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        ep = self.endpoint
        if ep.scheme == "ssh":
            return CountingStream(SSHStream(ssh_argv(ep), ep.host), self.wire)
        if ep.scheme == "unix":
            stream = self.plain.connect_unix_socket(ep.address, timeout)
        else:
            stream = self.plain.connect_tcp(ep.address, ep.port or 2375, timeout)
        return CountingStream(stream, self.wire)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self.connect_tcp("docker", 80, timeout)


def ssh_argv(ep: Endpoint) -> list[str]:
    argv = shlex.split(os.environ.get("LAMINA_SSH_COMMAND") or "ssh")
    argv += ["-o", f"ConnectTimeout={CONNECT_TIMEOUT}", "-T"]
    if ep.user:
        argv += ["-l", ep.user]
    if ep.port:
        argv += ["-p", str(ep.port)]
    return [*argv, "--", ep.address, "docker", "system", "dial-stdio"]


def ssl_context(ep: Endpoint) -> ssl.SSLContext | None:
    if ep.tls is None and not ep.host.startswith("https://"):
        return None
    tls = ep.tls
    ctx = ssl.create_default_context(cafile=str(tls.ca) if tls and tls.ca else None)
    if tls is not None and not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls is not None and tls.cert and tls.key:
        ctx.load_cert_chain(str(tls.cert), str(tls.key))
    return ctx


def pool(ep: Endpoint, wire: Wire) -> tuple[httpcore.ConnectionPool, str]:
    """A connection pool for `ep` and the URL origin to address it with."""
    ctx = ssl_context(ep)
    origin = f"https://{ep.address}:{ep.port}" if ctx else "http://docker"
    return (
        httpcore.ConnectionPool(
            ssl_context=ctx, network_backend=Backend(ep, wire), max_connections=4
        ),
        origin,
    )
