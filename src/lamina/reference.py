"""Image references, normalised the way Docker does.

`busybox` -> `docker.io/library/busybox:latest`; `local/x:1` -> `docker.io/local/x:1`;
`localhost:5000/x` keeps its registry. The familiar form drops `docker.io/` and
`library/` again, which is how `docker images` prints names.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from lamina.errors import UsageError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

NAME_TOTAL_LENGTH_MAX = 255  # the whole normalised name, docker.io/library/ included

# Docker's reference grammar (distribution/reference, as vendored by Docker 20.10), ASCII only
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*", re.ASCII)
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}", re.ASCII)
_DOMAIN_RE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?",
    re.ASCII,
)
_ID_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)

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
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain = DEFAULT_DOMAIN if first == LEGACY_DOMAIN else first
        return domain, rest
    return DEFAULT_DOMAIN, name


def _invalid(text: str, reason: str) -> UsageError:
    """Docker's wording (`docker tag` prints it after "Error parsing reference: ")."""
    quoted = json.dumps(text, ensure_ascii=False)
    return UsageError(f"{quoted} is not a valid repository/tag: {reason}")


@functools.lru_cache(maxsize=1 << 16)  # a listing parses every name of the store twice
def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise `text` by Docker's grammar; with default_tag, a bare name
    gets `:latest`. Refused as Docker refuses: non-ASCII, uppercase repositories, tags
    over 128 characters, names over 255 characters (docker.io/library/ included), and
    a bare 64-hex-digit name (that would read as an image ID)."""
    if _ID_RE.fullmatch(text):
        raise _invalid(
            text, f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, rest = _split_domain(text)
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = OFFICIAL_PREFIX + rest
    remote = rest.partition(":")[0]
    if remote.lower() != remote:
        raise _invalid(text, "invalid reference format: repository name must be lowercase")
    name, at, dig = rest.partition("@")
    path, colon, tag = name.partition(":")
    if not (
        text
        and _DOMAIN_RE.fullmatch(domain)
        and _PATH_RE.fullmatch(path)
        and (not colon or _TAG_RE.fullmatch(tag))
        and (not at or _DIGEST_RE.fullmatch(dig))
    ):
        lowered = text.lower()
        if lowered != text and try_parse(lowered) is not None:
            raise _invalid(text, "repository name must be lowercase")
        raise _invalid(text, "invalid reference format")
    if len(f"{domain}/{path}") > NAME_TOTAL_LENGTH_MAX:
        too_long = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        raise _invalid(text, too_long)
    if not tag and not dig and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, dig)


def try_parse(text: str) -> Reference | None:
    try:
        return parse(text)
    except UsageError:
        return None
