"""A reverse proxy that pages a registry's tag lists as the distribution spec says.

distribution 2.8 (the registry these tests run) ignores `?n=` on `/v2/NAME/tags/list`
and answers every tag at once; distribution 3, Harbor, GHCR, ECR and Docker Hub page
(`n`, `last`, and a `Link: <...>; rel="next"` header). This proxy forwards every
request to the real registry and pages its real tag list the spec's way, so the
client's Link-following is exercised against real data. It counts the pages it served.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def paging_proxy(upstream: str, default_page: int | None = None) -> Iterator[tuple[str, list[str]]]:
    """(host:port of the proxy, list of the tag-list URLs it served) while in the block."""
    pages: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                with urllib.request.urlopen(f"http://{upstream}{self.path}") as resp:
                    status, headers, body = resp.status, dict(resp.headers), resp.read()
            except urllib.error.HTTPError as e:
                status, headers, body = e.code, dict(e.headers), e.read()
            url = urllib.parse.urlsplit(self.path)
            if url.path.endswith("/tags/list") and status == 200:
                pages.append(self.path)
                body, link = _page(body, urllib.parse.parse_qs(url.query), url.path, default_page)
                headers = {"Content-Type": "application/json"} | link
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def _page(
    body: bytes, query: dict[str, list[str]], path: str, default_page: int | None
) -> tuple[bytes, dict[str, str]]:
    doc = json.loads(body)
    tags = sorted(doc.get("tags") or [])  # the spec's order: lexical
    last = query.get("last", [""])[0]
    n = int(query.get("n", [str(default_page or len(tags) or 1)])[0])
    rest = [t for t in tags if t > last]
    page, more = rest[:n], len(rest) > n
    link = {}
    if more:
        nxt = urllib.parse.urlencode({"n": n, "last": page[-1]})
        link = {"Link": f'<{path}?{nxt}>; rel="next"'}
    return json.dumps({"name": doc["name"], "tags": page}).encode(), link
