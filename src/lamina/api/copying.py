"""`copy SRC DST`: an image between registries and archives, never through the store.

    api.copying.copy("localhost:5000/app:1", "localhost:5000/mirror/app:1")
    api.copying.copy("docker://localhost:5000/app:1", "docker-archive:app.tar")

| from \\ to  | registry                            | archive (docker-archive, oci-archive, oci) |
|------------|-------------------------------------|--------------------------------------------|
| registry   | byte-exact: same manifests, digests | streamed from the registry into the writer |
| archive    | pushed as `push` would (gzip, OCI)  | read, then written                         |

Registry to registry (transports/registry/mirror.py) keeps every manifest and index
byte for byte, so digests and signatures stay valid: blobs the target lacks are mounted
across repositories on the same registry, else streamed from GET into PUT. A
multi-platform index is copied whole by default, as `crane copy` does (skopeo copies
one platform unless `--all`: lamina follows crane); `platform` copies that platform's
manifest alone, tagged as the index was. An archive holds one image: from an index,
this host's platform or `platform`. Layers stream, verified against their digests as
they arrive; an archive output appears whole or not at all (`atomic.output`; an `oci:`
directory is written beside and renamed), and a damaged blob stops the copy before a
tag is written at a registry destination.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lamina import atomic, digest, reference
from lamina.api.remote import open_repository, parse_remote
from lamina.api.storeless import Endpoint, endpoint
from lamina.errors import ConflictError, UsageError
from lamina.image import Image
from lamina.progress import Progress
from lamina.spec import Platform
from lamina.transports import archive_writer, oci_layout
from lamina.transports.registry import auth, browse, mirror
from lamina.transports.registry import pull as remote
from lamina.transports.sources import open_archive, read_images

__all__ = ["Copied", "copy"]


@dataclass(frozen=True)
class Copied:
    source: str
    destination: str
    digest: str  # of the manifest (or index) written at the destination
    image_id: str  # "" when a whole index was copied
    copied: int = 0  # blobs streamed
    mounted: int = 0  # blobs mounted from the source repository
    existed: int = 0  # blobs the destination already had


def copy(
    source: str,
    target: str,
    *,
    platform: Platform | None = None,
    tls_verify: bool = True,
    progress: Progress | None = None,
    docker_config: Path | None = None,
) -> Copied:
    """Copy the image `source` names to `target` (see the module doc for what each pair does)."""
    src, dst = endpoint(source), endpoint(target)
    progress = progress or Progress.null()
    if src.is_registry and dst.is_registry:
        return _between_registries(src, dst, platform, tls_verify, progress, docker_config)
    if src.is_registry:
        ref = parse_remote(src.name)
        with open_repository(ref, [auth.scope(ref.path, "pull")], tls_verify, docker_config) as r:
            found = remote.fetch(r, ref.digest or ref.tag, platform=platform, progress=progress)
            image = found.image.with_names(_names(dst, "" if ref.digest else ref.familiar))
            written = _write(image, dst, progress)
        return Copied(str(src), str(dst), written, image.id)
    with _archive_images(src, platform) as image:
        if dst.is_registry:
            return _push(image, src, dst, tls_verify, progress, docker_config)
        named = image.with_names(_names(dst, image.names[0] if image.names else ""))
        return Copied(str(src), str(dst), _write(named, dst, progress), image.id)


def _between_registries(
    src: Endpoint,
    dst: Endpoint,
    platform: Platform | None,
    tls_verify: bool,
    progress: Progress,
    docker_config: Path | None,
) -> Copied:
    sref, dref = parse_remote(src.name), parse_remote(dst.name)
    if dref.digest:
        raise UsageError(f"cannot copy to a digest reference {dref.familiar}", "give a tag")
    pull = [auth.scope(sref.path, "pull")]
    same = sref.domain == dref.domain
    scopes = [auth.scope(dref.path, "pull,push"), *(pull if same else [])]
    with (
        open_repository(sref, pull, tls_verify, docker_config) as s,
        open_repository(dref, scopes, tls_verify, docker_config) as d,
    ):
        served = browse.resolve(s, sref.digest or sref.tag, platform)
        done = mirror.mirror(s, d, served, dref.tag, progress)
    image_id = "" if served.is_index else browse.blobs(served)[0].digest
    counts = len(done.copied), len(done.mounted), len(done.existed)
    return Copied(str(src), str(dst), served.digest, image_id, *counts)


def _push(
    image: Image,
    src: Endpoint,
    dst: Endpoint,
    tls_verify: bool,
    progress: Progress,
    docker_config: Path | None,
) -> Copied:
    """An archive's image into a registry: layers gzip-compressed, an OCI manifest."""
    from lamina.transports.registry import push as sender

    ref = parse_remote(dst.name)
    if ref.digest:
        raise UsageError(f"cannot copy to a digest reference {ref.familiar}", "give a tag")
    scopes = [auth.scope(ref.path, "pull,push")]
    with (
        open_repository(ref, scopes, tls_verify, docker_config) as repo,
        tempfile.TemporaryDirectory(prefix="lamina-copy-") as scratch,
    ):
        pusher = sender.Pusher(repo, lambda *_: (), Path(scratch), sender.Options(), progress)
        result = pusher.push(image, ref.tag)
    blobs = [*result.layers, result.config]
    counts = [sum(1 for b in blobs if b.how == how) for how in ("pushed", "mounted", "exists")]
    return Copied(str(src), str(dst), result.manifest_digest, image.id, *counts)


@contextmanager
def _archive_images(src: Endpoint, platform: Platform | None) -> Iterator[Image]:
    """The one image of an archive that `src` names (its only one when it names none)."""
    with (
        tempfile.TemporaryDirectory(prefix="lamina-copy-") as scratch,
        open_archive(src.path, Path(scratch)) as fs,
    ):
        images = read_images(fs, platform)
        if src.name:
            wanted = {_familiar(src.name), _familiar(f"{oci_layout.SHORT_NAME_DOMAIN}/{src.name}")}
            images = [i for i in images if wanted & set(i.names)]
            if not images:
                raise UsageError(f"{fs.label} holds no image named {src.name}")
        if len(images) != 1:
            names = ", ".join(n for i in images for n in i.names) or "unnamed images"
            raise UsageError(
                f"{fs.label} holds {len(images)} images ({names})",
                f"write {src.transport}:PATH:NAME",
            )
        yield images[0]


def _names(dst: Endpoint, default: str) -> list[str]:
    name = dst.name or default
    return [_familiar(name)] if name else []


def _familiar(name: str) -> str:
    ref = reference.try_parse(name)
    if ref is None or not ref.tag:
        raise UsageError(f"invalid image name {name!r}", "write NAME[:TAG]")
    return ref.familiar


def _write(image: Image, dst: Endpoint, progress: Progress) -> str:
    """Write one image as `dst`'s kind of archive; returns its manifest digest there."""
    manifest_digest = digest.of_bytes(image.manifest_bytes())
    if dst.transport == "oci":
        _write_dir(image, Path(dst.path))
        return manifest_digest
    fmt = "docker" if dst.transport == "docker-archive" else "oci"
    with atomic.output(dst.path) as out:
        archive_writer.write_archive([image], out, fmt, progress=progress, label="Copying")
    return manifest_digest


def _write_dir(image: Image, root: Path) -> None:
    """A new OCI layout directory: written beside, then renamed into place."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConflictError(f"{root} exists and is not an empty directory", "name a new directory")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        oci_layout.write_dir([image], staging)
        if root.exists():
            root.rmdir()
        os.rename(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
