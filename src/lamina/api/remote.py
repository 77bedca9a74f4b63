"""What every registry verb starts from: a reference and an authenticated repository."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from lamina import reference
from lamina.reference import Reference
from lamina.transports.registry import auth

if TYPE_CHECKING:
    from lamina.transports.registry.client import Session
    from lamina.transports.registry.repo import Repository


def parse_remote(text: str) -> Reference:
    """A registry reference, normalised as Docker does (docker.io/library/..., :latest)."""
    return reference.parse(text)


def connect(host: str, tls_verify: bool, creds: auth.Credentials | None) -> Session:
    # imported here: httpx takes ~0.1 s to import, and only registry verbs need it
    from lamina.transports.registry.client import Session

    return Session(host, tls_verify=tls_verify, credentials=creds)


@contextmanager
def open_repository(
    ref: Reference, scopes: list[str], tls_verify: bool, docker_config: Path | None
) -> Iterator[Repository]:
    """The repository `ref` names, authenticated for `scopes` with the saved credentials."""
    from lamina.transports.registry.repo import Repository

    creds = auth.load_credentials(ref.domain, docker_config)
    with connect(ref.domain, tls_verify, creds) as session:
        session.authenticate(scopes)
        yield Repository(session, ref.path)
