"""Read a registry without a store: tags (paginated), manifests as served.

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
from typing import TYPE_CHECKING

from lamina.errors import InvalidInputError, RegistryError
from lamina.spec import Platform
from lamina.transports.documents import Document
from lamina.transports.oci_layout import host_platform

if TYPE_CHECKING:  # the HTTP side (httpx) loads only when a session opens
    from lamina.transports.registry.repo import Repository

MAX_PAGES = 100_000  # a registry whose Link never ends is broken, not big


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


def get(repo: Repository, ref: str, declared: str = "") -> Document:
    """A manifest or index by tag or digest (a digest is checked against the bytes)."""
    raw, kind = repo.get_manifest(ref)
    return Document.of(raw, kind or declared)


def resolve(repo: Repository, ref: str, platform: Platform | None = None) -> Document:
    """The document `ref` names; with `platform`, an index's manifest for it."""
    doc = get(repo, ref)
    if platform is None or not doc.is_index:
        return doc
    entry = doc.platform_entry(platform, f"{repo.session.host}/{repo.name}")
    return get(repo, entry.digest, entry.media_type)


def image_manifest(repo: Repository, ref: str, platform: Platform | None = None) -> Document:
    """An image manifest: an index is stepped through (this host's platform by default)."""
    doc = resolve(repo, ref, platform or host_platform())
    if doc.is_index:
        raise InvalidInputError(f"{repo.name}:{ref} nests an index in an index")
    return doc
