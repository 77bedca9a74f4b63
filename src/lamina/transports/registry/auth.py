"""Registry credentials: Docker's config file, WWW-Authenticate challenges, token scopes.

Credentials come from where Docker keeps them (`$DOCKER_CONFIG/config.json`, else
`~/.docker/config.json`), in Docker's order: the registry's `credHelpers` entry,
else `credsStore` (both name a `docker-credential-NAME` program, see helpers.py),
else `auths.<host>`: `auth` = base64 "user:pass", or `identitytoken` (an OAuth2
refresh token). So `docker login` and `lamina login` share them. With a helper
configured, login stores through it and the file gets an empty `auths` entry,
never the password. Writes keep every other key of the file and leave it
readable by its owner only.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina import reference
from lamina.atomic import write_atomic
from lamina.errors import InvalidInputError, UsageError
from lamina.transports.registry import helpers

# Docker files docker.io credentials under its v1 index URL; other hosts by name
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = frozenset(
    {reference.DEFAULT_DOMAIN, reference.LEGACY_DOMAIN, "registry-1.docker.io"}
)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    identity_token: str = ""  # an OAuth2 refresh token, used instead of the password

    def basic(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


# -- hosts --------------------------------------------------------------------------


def normalize_host(text: str) -> str:
    """`https://host:5000/v2/` or `host:5000` -> `host:5000`; Docker Hub's names -> docker.io."""
    host = re.sub(r"^[a-z]+://", "", text.strip()).split("/", 1)[0]
    if not host:
        raise UsageError(f"invalid registry {text!r}", "give a host name, e.g. localhost:5000")
    return reference.DEFAULT_DOMAIN if host in DOCKER_HUB_HOSTS else host


def config_key(host: str) -> str:
    """The `auths` key Docker writes for a registry."""
    return DOCKER_HUB_KEY if host == reference.DEFAULT_DOMAIN else host


# -- the config file ---------------------------------------------------------------


def config_path() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    base = Path(env) if env else Path.home() / ".docker"
    return base / "config.json"


def _read_config(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise InvalidInputError(f"{path} is not valid JSON", "fix or remove the file") from None
    if not isinstance(doc, dict):
        raise InvalidInputError(f"{path} is not a JSON object", "fix or remove the file")
    return doc


def _write_config(path: Path, doc: dict[str, Any]) -> None:
    """Replace the file atomically, mode 0600 (it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = (json.dumps(doc, indent="\t") + "\n").encode()
    write_atomic(path, data, mode=0o600)


def _auths(doc: dict[str, Any]) -> dict[str, Any]:
    auths = doc.get("auths")
    return auths if isinstance(auths, dict) else {}


def helper_for(doc: dict[str, Any], host: str) -> str:
    """The credential helper Docker uses for `host`: credHelpers, else credsStore; "" if none."""
    per_host = doc.get("credHelpers")
    if isinstance(per_host, dict):
        for key, name in per_host.items():
            if isinstance(name, str) and name and normalize_host(key) == host:
                return name
    default = doc.get("credsStore")
    return default if isinstance(default, str) else ""


def _from_helper(helper: str, host: str) -> Credentials | None:
    found = helpers.get(helper, config_key(host))
    if found is None:
        return None
    user, secret = found
    return Credentials("", "", secret) if user == helpers.TOKEN_USER else Credentials(user, secret)


def _decode(entry: Any, path: Path, key: str) -> Credentials | None:
    token = entry.get("identitytoken") if isinstance(entry, dict) else None
    if isinstance(token, str) and token:
        return Credentials("", "", token)
    if not isinstance(entry, dict) or not entry.get("auth"):
        return None
    try:
        user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        user, sep, password = "", "", ""
    if not sep or not user:
        raise InvalidInputError(
            f"{path}: auths[{key!r}].auth is not base64 'user:password'",
            "log in to it again",
            command=f"run `lamina login {key}` again",
        )
    return Credentials(user, password)


def load_credentials(host: str, path: Path | None = None) -> Credentials | None:
    """Saved credentials for a registry host, or None (anonymous)."""
    path = path or config_path()
    host = normalize_host(host)
    doc = _read_config(path)
    helper = helper_for(doc, host)
    if helper:
        return _from_helper(helper, host)
    for key, entry in _auths(doc).items():
        if normalize_host(key) == host:
            found = _decode(entry, path, key)
            if found is not None:
                return found
    return None


def save_credentials(host: str, creds: Credentials, path: Path | None = None) -> str:
    """Save through the configured helper, else in the file; says where they went."""
    path = path or config_path()
    host = normalize_host(host)
    doc = _read_config(path)
    auths = {k: v for k, v in _auths(doc).items() if normalize_host(k) != host}
    helper = helper_for(doc, host)
    if helper:  # the secret goes to the helper only; the file just lists the registry
        helpers.store(helper, config_key(host), creds.username, creds.password)
        auths[config_key(host)] = {}
        where = f"{helpers.PREFIX}{helper}"
    else:
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        auths[config_key(host)] = {"auth": token}
        where = str(path)
    doc["auths"] = auths
    _write_config(path, doc)
    return where


def remove_credentials(host: str, path: Path | None = None) -> bool:
    """Forget a registry's credentials; False when there were none."""
    path = path or config_path()
    host = normalize_host(host)
    doc = _read_config(path)
    helper = helper_for(doc, host)
    erased = helpers.erase(helper, config_key(host)) if helper else False
    auths = _auths(doc)
    kept = {k: v for k, v in auths.items() if normalize_host(k) != host}
    if len(kept) == len(auths):
        return erased
    doc["auths"] = kept
    _write_config(path, doc)
    return True


# -- challenges ---------------------------------------------------------------------

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value: `Bearer realm="...",service="..."`, `Basic realm=...`.

    Several challenges may share one header; a new one starts at a bare scheme word.
    """
    out: list[Challenge] = []
    pos = 0
    while pos < len(header):
        m = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)").match(header, pos)
        if not m:
            break
        params: dict[str, str] = {}
        pos = m.end()
        while pm := _PARAM_RE.match(header, pos):
            if pm.end() == pos:
                break
            value = pm.group(2) if pm.group(2) is not None else pm.group(3) or ""
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            pos = pm.end()
        out.append(Challenge(m.group(1).lower(), params))
    return out


def scope(repository: str, actions: str) -> str:
    """A token scope: `repository:NAME:pull,push`."""
    return f"repository:{repository}:{actions}"
