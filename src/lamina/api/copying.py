"""`copy SRC DST`: an image between registries and archives, never through the store.

    lamina.copy("localhost:5000/app:1", "localhost:5000/mirror/app:1")
    lamina.copy("docker://localhost:5000/app:1", "oci-archive:app.tar:app")

Between registries and OCI layouts (`oci-archive:`, `oci:`) the copy is byte for byte
(transports/mirror.py): every manifest and index keeps its bytes, so its digest and any
signature over it; on one registry blobs are mounted across repositories, otherwise
they stream from the source into the target, verified on the way, never held whole. A
multi-platform index is copied whole by default, as `crane copy` does (skopeo copies
one platform unless `--all`: lamina follows crane); `platform` copies that platform's
manifest alone, named as the index was.

A docker-archive has no manifest of registry form, so copies to or from one go through
images: from a registry the layers stream as they are into the archive writer (one
image: this host's platform or `platform`); to a registry they are pushed as `push`
pushes (gzip, an OCI manifest). Docker loads the result with the same image ID.

Nothing is named before everything it needs is there: an archive appears whole or not
at all (`atomic.output`; an `oci:` directory is written beside and renamed), and at a
registry the tag is the last thing written, so a damaged blob leaves no tag behind.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lamina import atomic
from lamina.api.remote import open_repository, parse_remote
from lamina.api.storeless import Endpoint, endpoint
from lamina.errors import UsageError
from lamina.progress import Progress
from lamina.spec import Platform
from lamina.transports.documents import Document
from lamina.transports.layout_ends import DirTarget, LayoutSource, TarTarget
from lamina.transports.mirror import Source, Target, mirror
from lamina.transports.registry import auth, browse
from lamina.transports.sources import open_archive

if TYPE_CHECKING:
    from lamina.transports.registry.repo import Repository

__all__ = ["Copied", "copy"]


@dataclass(frozen=True)
class Copied:
    """What `copy` did: where from and to, the digest written there, and each blob's fate."""

    source: str
    destination: str
    digest: str  # of the manifest (or index) written at the destination
    image_id: str  # "" when a whole index was copied
    copied: int = 0  # blobs streamed
    mounted: int = 0  # blobs mounted from the source repository
    existed: int = 0  # blobs the destination already had


@dataclass
class _Options:
    platform: Platform | None
    tls_verify: bool
    docker_config: Path | None


def copy(
    source: str,
    target: str,
    *,
    platform: Platform | str | None = None,
    tls_verify: bool = True,
    progress: Progress | None = None,
    docker_config: Path | None = None,
) -> Copied:
    """Copy the image `source` names to `target` (see the module doc for each pair)."""
    src, dst = endpoint(source), endpoint(target)
    progress = progress or Progress.null()
    opts = _Options(Platform.of(platform), tls_verify, docker_config)
    if "docker-archive" in (src.transport, dst.transport):
        from lamina.api.copy_images import copy_images

        image_id, dig, counts = copy_images(
            src, dst, opts.platform, tls_verify, progress, docker_config
        )
        return Copied(str(src), str(dst), dig, image_id, *counts)
    with ExitStack() as stack:
        source_end, top, mount_from = _source(stack, src, opts)
        target_end, finish = _target(stack, dst, mount_from, opts)
        done = mirror(source_end, target_end, top, progress)
        finish()
    image_id = "" if top.is_index else top.config().digest
    counts = len(done.copied), len(done.mounted), len(done.existed)
    return Copied(str(src), str(dst), top.digest, image_id, *counts)


def _source(
    stack: ExitStack, src: Endpoint, opts: _Options
) -> tuple[Source, Document, Repository | None]:
    """The source end, the document to copy, and the repository blobs may be mounted from."""
    if src.is_registry:
        from lamina.transports.registry.ends import RegistrySource

        ref = parse_remote(src.name)
        scopes = [auth.scope(ref.path, "pull")]
        repo = stack.enter_context(
            open_repository(ref, scopes, opts.tls_verify, opts.docker_config)
        )
        return (
            RegistrySource(repo),
            browse.resolve(repo, ref.digest or ref.tag, opts.platform),
            repo,
        )
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lamina-copy-")))
    layout = LayoutSource(stack.enter_context(open_archive(src.path, scratch)))
    top = layout.top(src.name)
    if opts.platform is not None and top.is_index:
        top = layout.document(top.platform_entry(opts.platform, src.path))
    return layout, top, None


def _target(
    stack: ExitStack, dst: Endpoint, source: Repository | None, opts: _Options
) -> tuple[Target, Callable[[], None]]:
    """The target end and what completes it once every document is in."""
    if dst.is_registry:
        from lamina.transports.registry.ends import RegistryTarget

        ref = parse_remote(dst.name)
        if ref.digest:
            raise UsageError(f"cannot copy to a digest reference {ref.familiar}", "give a tag")
        scopes = [auth.scope(ref.path, "pull,push")]
        if source is not None and ref.domain == source.session.host:
            scopes.append(auth.scope(source.name, "pull"))
        repo = stack.enter_context(
            open_repository(ref, scopes, opts.tls_verify, opts.docker_config)
        )
        return RegistryTarget(repo, ref.tag, source), lambda: None
    if dst.transport == "oci":
        directory = DirTarget(Path(dst.path), dst.name)
        stack.callback(directory.abandon)  # after finish() there is nothing left to remove
        return directory, directory.finish
    tar = TarTarget(stack.enter_context(atomic.output(dst.path)), dst.name)
    return tar, tar.finish
