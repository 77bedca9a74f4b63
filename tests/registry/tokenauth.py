"""The real registry in token-auth mode, with a small token server made for the test.

distribution's `auth: token` checks JWTs signed by a key whose certificate is in
its `rootcertbundle`; this module makes the key and certificate with openssl,
signs RS256 tokens with openssl, and serves them on 127.0.0.1 like Docker Hub's
auth service does (GET /token?service=...&scope=..., Basic credentials or none;
POST /token with Docker's OAuth2 refresh_token grant for identity tokens). Only
user/password or the server's one refresh token get access; anonymous callers get
a token that grants nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tests.peers import REGISTRY_CONF, Process, Registry, find_tool, free_port, short_tempdir
from tests.peers import wait_until as peers_wait_until

SERVICE = "lamina-test-registry"
ISSUER = "lamina-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    def __init__(self, root: Path, user: str, password: str) -> None:
        self.key, self.cert = root / "token.key", root / "token.crt"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=lamina-test"),
            ],
            check=True,
            capture_output=True,
        )
        pem = self.cert.read_text().splitlines()
        self.x5c = "".join(line for line in pem if not line.startswith("-----"))
        self.user, self.password = user, password
        self.refresh_token = "rt-" + secrets.token_hex(8)  # what an `identitytoken` holds
        self.requests: list[dict[str, list[str]]] = []  # query of every token request
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sign(self, claims: dict[str, object]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def token(self, scopes: list[str], user: str) -> str:
        access = []
        for scope in scopes if user else []:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        return self.sign(claims)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                owner.requests.append(query)
                user = ""
                given = self.headers.get("Authorization", "")
                if given:
                    expected = base64.b64encode(f"{owner.user}:{owner.password}".encode())
                    if given != f"Basic {expected.decode()}":
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = owner.user
                self._reply({"token": owner.token(query.get("scope", []), user), "expires_in": 300})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                owner.requests.append(form)
                given = form.get("refresh_token", [""])[0]
                if form.get("grant_type") != ["refresh_token"] or given != owner.refresh_token:
                    self.send_response(401)
                    self.end_headers()
                    return
                scopes = form.get("scope", [""])[0].split()
                token = owner.token(scopes, owner.user)
                self._reply({"access_token": token, "expires_in": 300})

            def _reply(self, doc: dict[str, object]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def start(user: str, password: str) -> tuple[Registry, TokenServer]:
    """A registry that trusts tokens from a TokenServer that knows one user."""
    binary = find_tool("docker-registry")
    root = short_tempdir("lt")
    tokens = TokenServer(root, user, password)
    auth = (
        f"auth:\n  token:\n    realm: {tokens.realm}\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {tokens.cert}\n"
    )
    host = f"127.0.0.1:{free_port()}"
    conf = root / "config.yml"
    conf.write_text(
        REGISTRY_CONF.format(root=root, host=host, auth=auth, secret=secrets.token_hex(8))
    )
    proc = Process([binary, "serve", conf], root / "registry.log", stdout_path=root / "access.log")
    registry = Registry(root, host, proc, None)
    try:
        peers_wait_until(registry._ready, proc, "docker-registry", 15)
    except BaseException:
        registry.stop()
        tokens.stop()
        raise
    return registry, tokens
