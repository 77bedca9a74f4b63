"""Read a registry without a store: tags (paginated), manifests as served, configs.

    tags = list(list_tags(repo, page_size=100))   # every tag, following Link headers
    doc = resolve(repo, "1", platform)           # the bytes the registry serves

`list_tags` follows the `Link: <...>; rel="next"` header of each page (the distribution
spec's pagination), so a registry that pages by default still lists every tag;
`page_size` asks for pages of that many (`?n=`). `resolve` returns a manifest or index
exactly as the registry sent it, its digest computed from those bytes (what `skopeo
inspect` and `crane digest` report); with a platform it steps from an index to that
platform's manifest, as `crane digest --platform` does. Nothing here writes anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina import digest, mediatype, spec
from lamina.errors import InvalidInputError, RegistryError
from lamina.spec import Descriptor, Platform
from lamina.transports.oci_layout import choose_platform, host_platform
from lamina.transports.registry.pull import _is_index as is_index

if TYPE_CHECKING:  # the HTTP side (httpx) loads only when a session opens
    from lamina.transports.registry.repo import Repository

MAX_PAGES = 100_000  # a registry whose Link never ends is broken, not big


@dataclass(frozen=True)
class Served:
    """A manifest or index as the registry served it."""

    raw: bytes
    media_type: str  # the registry's Content-Type, else the document's own mediaType
    digest: str

    @property
    def is_index(self) -> bool:
        return is_index(self.raw, self.media_type)

    def doc(self) -> dict[str, Any]:
        return spec.parse_json(self.raw, f"manifest {self.digest}")


def list_tags(repo: Repository, page_size: int | None = None) -> Iterator[str]:
    """Every tag of `repo`, page by page, in the registry's order."""
    url: str | None = f"/v2/{repo.name}/tags/list"
    params = {"n": str(page_size)} if page_size else None
    for _ in range(MAX_PAGES):
        if url is None:
            return
        resp = repo.session.request("GET", url, what=f"tags of {repo.name}", params=params)
        try:
            tags = resp.json().get("tags") or []
        except (ValueError, AttributeError):
            raise RegistryError(f"{repo.session.host} sent a malformed tag list") from None
        yield from (str(t) for t in tags)
        following = resp.links.get("next", {}).get("url")
        url, params = (following or None), None  # the next URL carries its own query
    raise RegistryError(f"{repo.session.host} keeps paging the tags of {repo.name}")


def get(repo: Repository, ref: str) -> Served:
    raw, kind = repo.get_manifest(ref)
    if not kind or kind not in mediatype.MANIFESTS | mediatype.INDEXES:
        declared = spec.parse_json(raw, f"manifest {repo.name}:{ref}").get("mediaType")
        kind = declared if isinstance(declared, str) and declared else kind
    return Served(raw, kind, digest.of_bytes(raw))


def resolve(repo: Repository, ref: str, platform: Platform | None = None) -> Served:
    """The document `ref` names; with `platform`, an index's manifest for it."""
    served = get(repo, ref)
    if platform is None or not served.is_index:
        return served
    return get(repo, platform_entry(served, platform, f"{repo.session.host}/{repo.name}").digest)


def image_manifest(repo: Repository, ref: str, platform: Platform | None = None) -> Served:
    """An image manifest: an index is stepped through (this host's platform by default)."""
    served = get(repo, ref)
    if served.is_index:
        label = f"{repo.session.host}/{repo.name}"
        served = get(repo, platform_entry(served, platform or host_platform(), label).digest)
    if served.is_index:
        raise InvalidInputError(f"{repo.name}:{ref} nests an index in an index")
    return served


def platform_entry(index: Served, platform: Platform, label: str) -> Descriptor:
    entries = children(index)
    images = tuple(d for d in entries if d.platform is not None and d.platform.os != "unknown")
    return choose_platform(images or entries, platform, label)[0]


def children(index: Served) -> tuple[Descriptor, ...]:
    """The entries of an index, in order."""
    entries = index.doc().get("manifests")
    if not isinstance(entries, list):
        raise InvalidInputError(f"image index {index.digest} has no manifests list")
    return tuple(Descriptor.from_json(e, f"image index {index.digest}") for e in entries)


def blobs(manifest: Served) -> tuple[Descriptor, ...]:
    """What an image (or artifact) manifest needs in the repository: config, then layers."""
    doc = manifest.doc()
    what = f"manifest {manifest.digest}"
    found = [Descriptor.from_json(doc["config"], what)] if "config" in doc else []
    for key in ("layers", "blobs"):  # "blobs": the OCI 1.1-rc artifact manifest
        entries = doc.get(key) or []
        if not isinstance(entries, list):
            raise InvalidInputError(f"{what}: {key} is not a list")
        found += [Descriptor.from_json(e, what) for e in entries]
    return tuple(found)
