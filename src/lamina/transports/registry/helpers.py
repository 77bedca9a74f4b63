"""Docker credential helpers: `docker-credential-NAME get|store|erase|list` on PATH.

The protocol Docker speaks (docker/docker-credential-helpers): `get` and `erase`
read the server address on stdin; `get` prints `{"ServerURL", "Username",
"Secret"}`; `store` reads that object; `list` prints `{server: username}`. A
username of `<token>` means the secret is an identity token (OAuth2 refresh
token), not a password. A helper that does not know the server exits non-zero
saying "credentials not found": that is no credentials, not an error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from lamina.errors import AuthError

PREFIX = "docker-credential-"
TOKEN_USER = "<token>"
NOT_FOUND = "credentials not found"
TIMEOUT = 60.0


def _run(helper: str, action: str, stdin: str) -> subprocess.CompletedProcess[str]:
    program = shutil.which(PREFIX + helper)
    if program is None:
        raise AuthError(
            f"credential helper {PREFIX}{helper} is not on PATH",
            "install it, or remove it from credsStore/credHelpers in the Docker config",
        )
    try:
        return subprocess.run(
            [program, action],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AuthError(f"credential helper {PREFIX}{helper} {action} failed: {exc}") from None


def _failed(helper: str, action: str, proc: subprocess.CompletedProcess[str]) -> AuthError:
    said = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    reason = said[0] if said else f"exit status {proc.returncode}"
    return AuthError(f"credential helper {PREFIX}{helper} {action} failed: {reason}")


def get(helper: str, server: str) -> tuple[str, str] | None:
    """(username, secret) the helper keeps for `server`, or None."""
    proc = _run(helper, "get", server)
    if proc.returncode != 0:
        if NOT_FOUND in (proc.stdout + proc.stderr).lower():
            return None
        raise _failed(helper, "get", proc)
    doc = _object(helper, proc.stdout)
    user, secret = doc.get("Username", ""), doc.get("Secret", "")
    if not isinstance(user, str) or not isinstance(secret, str):
        raise AuthError(f"credential helper {PREFIX}{helper} get printed a malformed answer")
    return (user, secret) if secret else None


def store(helper: str, server: str, username: str, secret: str) -> None:
    doc = {"ServerURL": server, "Username": username, "Secret": secret}
    proc = _run(helper, "store", json.dumps(doc))
    if proc.returncode != 0:
        raise _failed(helper, "store", proc)


def erase(helper: str, server: str) -> bool:
    """False when the helper had nothing for `server`."""
    proc = _run(helper, "erase", server)
    if proc.returncode == 0:
        return True
    if NOT_FOUND in (proc.stdout + proc.stderr).lower():
        return False
    raise _failed(helper, "erase", proc)


def servers(helper: str) -> dict[str, str]:
    """`list`: server -> username."""
    proc = _run(helper, "list", "")
    if proc.returncode != 0:
        raise _failed(helper, "list", proc)
    return {str(k): str(v) for k, v in _object(helper, proc.stdout).items()}


def _object(helper: str, text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise AuthError(f"credential helper {PREFIX}{helper} printed something other than JSON")
    return doc
