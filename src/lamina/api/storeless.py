"""Registry verbs that need no store (crane's): ls, digest, manifest, config.

    lamina.list_tags("localhost:5000/app")               # every tag, all pages
    lamina.remote_digest("localhost:5000/app:1")         # as `skopeo inspect` reports it
    lamina.remote_manifest("localhost:5000/app:1")       # the bytes as served
    lamina.remote_config("localhost:5000/app:1")         # the config blob, verified

None of them opens, creates or reads a store; each reads what it prints straight from
the registry and checks it against its digest. The digest and manifest of a
multi-platform image give the index itself, or with `platform` that platform's manifest
(crane's `--platform`); `config` steps through an index to this host's platform (or
`platform`), as a pull would. `copy` (api/copying.py) is the one verb that writes.
Endpoints (`docker://REF`, `docker-archive:PATH[:NAME]`, `oci-archive:PATH[:NAME]`,
`oci:DIR[:NAME]`, skopeo's transport names) are parsed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lamina.api.remote import open_repository, parse_remote
from lamina.errors import UsageError
from lamina.progress import Progress
from lamina.reference import Reference
from lamina.spec import Platform
from lamina.transports.documents import Document
from lamina.transports.registry import auth, browse

__all__ = [
    "ARCHIVES",
    "Endpoint",
    "endpoint",
    "list_tags",
    "remote_config",
    "remote_digest",
    "remote_manifest",
]

ARCHIVES = ("docker-archive", "oci-archive", "oci")  # skopeo's names for them
REGISTRY = "docker"


@dataclass(frozen=True)
class Endpoint:
    """Where `copy` reads or writes: a registry reference, or an archive and a name in it."""

    transport: str  # "docker" (a registry) or one of ARCHIVES
    path: str  # the archive file or layout directory; "" for a registry
    name: str  # the registry reference, or the image's name in the archive ("": none)

    @property
    def is_registry(self) -> bool:
        return self.transport == REGISTRY

    def __str__(self) -> str:
        if self.is_registry:
            return f"docker://{self.name}"
        return f"{self.transport}:{self.path}" + (f":{self.name}" if self.name else "")


def endpoint(text: str) -> Endpoint:
    """`docker://REF` or a bare REF (crane's habit): a registry; `T:PATH[:NAME]` an archive."""
    if text.startswith("docker://"):
        return Endpoint(REGISTRY, "", parse_remote(text[len("docker://") :]).familiar)
    for transport in ARCHIVES:
        if text.startswith(transport + ":"):
            path, _, name = text[len(transport) + 1 :].partition(":")
            if not path:
                raise UsageError(f"{text!r} names no file", f"write {transport}:PATH[:NAME]")
            return Endpoint(transport, path, name)
    if text.startswith("docker-daemon:"):
        raise UsageError(
            "copy does not reach a Docker Engine",
            "load the image from the Engine into a store, or send it to one",
            command="use `lamina load docker-daemon:NAME` or `lamina send --to-docker`",
        )
    return Endpoint(REGISTRY, "", parse_remote(text).familiar)


def list_tags(
    repository: str,
    *,
    page_size: int | None = None,
    tls_verify: bool = True,
    docker_config: Path | None = None,
) -> list[str]:
    """Every tag of `repository` (a tag or digest in it is ignored), all pages followed."""
    if page_size is not None and page_size < 1:
        raise UsageError("the page size must be at least 1")
    ref = _remote(repository)
    with open_repository(ref, [auth.scope(ref.path, "pull")], tls_verify, docker_config) as repo:
        return list(browse.list_tags(repo, page_size))


def remote_digest(
    text: str,
    *,
    platform: Platform | str | None = None,
    tls_verify: bool = True,
    docker_config: Path | None = None,
) -> str:
    """The digest of what `text` names in its registry (`platform`: that platform's)."""
    return _served(text, Platform.of(platform), tls_verify, docker_config).digest


def remote_manifest(
    text: str,
    *,
    platform: Platform | str | None = None,
    tls_verify: bool = True,
    docker_config: Path | None = None,
) -> bytes:
    """The manifest or index `text` names, byte for byte as the registry serves it."""
    return _served(text, Platform.of(platform), tls_verify, docker_config).raw


def remote_config(
    text: str,
    *,
    platform: Platform | str | None = None,
    tls_verify: bool = True,
    docker_config: Path | None = None,
) -> bytes:
    """The config blob of the image `text` names, checked against its digest."""
    ref = _remote(text)
    with open_repository(ref, [auth.scope(ref.path, "pull")], tls_verify, docker_config) as repo:
        cfg = browse.image_manifest(repo, ref.digest or ref.tag, Platform.of(platform)).config()
        return repo.read_blob(cfg.digest, cfg.size, Progress.null().task("", None))


def _served(
    text: str, platform: Platform | None, tls_verify: bool, docker_config: Path | None
) -> Document:
    ref = _remote(text)
    with open_repository(ref, [auth.scope(ref.path, "pull")], tls_verify, docker_config) as repo:
        return browse.resolve(repo, ref.digest or ref.tag, platform)


def _remote(text: str) -> Reference:
    return parse_remote(text[len("docker://") :] if text.startswith("docker://") else text)
