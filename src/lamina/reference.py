"""Image references, normalised the way Docker does.

`busybox` -> `docker.io/library/busybox:latest`; `local/x:1` -> `docker.io/local/x:1`;
`localhost:5000/x` keeps its registry. The familiar form drops `docker.io/` and
`library/` again, which is how `docker images` prints names.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lamina.errors import UsageError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_DOMAIN_RE = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """Full repository name: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """Repository as Docker prints it: busybox, local/x, localhost:5000/x."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        path = self.path
        if path.startswith(OFFICIAL_PREFIX) and path.count("/") == 1:
            path = path[len(OFFICIAL_PREFIX) :]
        return path

    def __str__(self) -> str:
        return self._render(self.repository)

    @property
    def familiar(self) -> str:
        return self._render(self.familiar_repository)

    def _render(self, repo: str) -> str:
        out = repo
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, "")


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain = DEFAULT_DOMAIN if first == LEGACY_DOMAIN else first
        return domain, rest
    return DEFAULT_DOMAIN, name


@functools.lru_cache(maxsize=1 << 16)  # a listing parses every name of the store twice
def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise `text`; with default_tag, a bare name gets `:latest`."""
    if not text or text != text.strip():
        raise UsageError(f"invalid reference {text!r}", "expected NAME[:TAG] or NAME@sha256:DIGEST")
    name, _, dig = text.partition("@")
    if dig and not _DIGEST_RE.match(dig):
        raise UsageError(f"invalid digest in {text!r}", "expected @sha256:<64 hex digits>")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise UsageError(f"invalid tag {tag!r} in {text!r}", "tags are [A-Za-z0-9_.-], max 128")
    domain, path = _split_domain(name)
    if not _DOMAIN_RE.match(domain):
        raise UsageError(f"invalid registry {domain!r} in {text!r}")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if not _PATH_RE.match(path):
        raise UsageError(
            f"invalid reference format {text!r}",
            "repository names are lowercase letters, digits and separators",
        )
    if not tag and not dig and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, dig)


def try_parse(text: str) -> Reference | None:
    try:
        return parse(text)
    except UsageError:
        return None
