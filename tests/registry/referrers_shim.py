"""A tiny HTTP shim in front of the real registry that adds the OCI referrers API.

distribution 2.8 has no referrers API, so this is the only way to see lamina take
the API path; the tag-schema fallback is tested against the registry itself. The
shim forwards every request, except: `GET /v2/NAME/referrers/DIGEST` is answered
from the referrers it was told of, the referrers tag `sha256-HEX` is hidden (so a
client that read it would find nothing), and a manifest PUT whose body has a
`subject` is answered with `OCI-Subject`, as a registry with the API does.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REFERRERS = re.compile(r"^/v2/(.+)/referrers/(sha256:[0-9a-f]{64})$")
TAG_SCHEMA = re.compile(r"^/v2/.+/manifests/sha256-[0-9a-f]{64}$")


class Shim:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.listed: dict[str, list[dict[str, Any]]] = {}  # subject -> descriptors
        self.api_calls = 0
        self.tag_schema_puts = 0
        shim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                shim.handle(self, "GET")

            def do_HEAD(self) -> None:
                shim.handle(self, "HEAD")

            def do_PUT(self) -> None:
                shim.handle(self, "PUT")

            def do_POST(self) -> None:
                shim.handle(self, "POST")

            def do_PATCH(self) -> None:
                shim.handle(self, "PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        if method == "GET" and (m := REFERRERS.match(path)):
            self.api_calls += 1
            index = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": self.listed.get(m.group(2), []),
            }
            return self.reply(
                h, 200, {"Content-Type": index["mediaType"]}, json.dumps(index).encode()
            )
        if TAG_SCHEMA.match(path):
            self.tag_schema_puts += method == "PUT"
            return self.reply(h, 404, {"Content-Type": "application/json"}, b'{"errors":[]}')
        body = (
            h.rfile.read(int(h.headers.get("Content-Length") or 0))
            if method in ("PUT", "POST", "PATCH")
            else None
        )
        req = urllib.request.Request(self.upstream + h.path, data=body, method=method)
        for k in ("Content-Type", "Accept", "Content-Range"):
            if h.headers.get(k):
                req.add_header(k, h.headers[k])
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, headers, data = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            status, headers, data = e.code, dict(e.headers), e.read()
        headers.pop("Transfer-Encoding", None)
        if "Location" in headers:
            headers["Location"] = headers["Location"].replace(self.upstream, f"http://{self.host}")
        if method == "PUT" and "/manifests/" in path and status == 201 and body:
            doc = json.loads(body)
            if isinstance(doc.get("subject"), dict):
                headers["OCI-Subject"] = doc["subject"]["digest"]
        self.reply(h, status, headers, data, head=method == "HEAD")

    @staticmethod
    def reply(
        h: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        data: bytes,
        head: bool = False,
    ) -> None:
        h.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "connection", "date", "server"):
                h.send_header(k, v)
        h.send_header(
            "Content-Length", str(len(data)) if not head else headers.get("Content-Length", "0")
        )
        h.end_headers()
        if not head:
            h.wfile.write(data)
