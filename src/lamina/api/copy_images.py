"""`copy` to or from a docker-archive: through Image values, as load, save and push see them.

A docker-archive carries no manifest of registry form (Docker writes `manifest.json`),
so here the copy reads images (transports/sources.py, or a registry's manifest and
config with layers that stream only when written) and writes them with lamina's one
archive writer, or pushes them as `push` does (gzip layers, an OCI manifest). The
byte-exact copies are api/copying.py. One image: `platform` (else this host's) picks it
from an index; an archive with several names the one to copy as `PATH:NAME`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lamina import atomic, digest, reference
from lamina.api.remote import open_repository, parse_remote
from lamina.api.storeless import Endpoint
from lamina.errors import UsageError
from lamina.image import Image
from lamina.progress import Progress
from lamina.spec import Platform
from lamina.transports import archive_writer, oci_layout
from lamina.transports.registry import auth
from lamina.transports.registry import pull as remote
from lamina.transports.sources import open_archive, read_images

Counts = tuple[int, int, int]  # blobs copied, mounted, already there
HOWS = ("pushed", "mounted", "exists")  # push's words for the same three


def copy_images(
    src: Endpoint,
    dst: Endpoint,
    platform: Platform | None,
    tls_verify: bool,
    progress: Progress,
    docker_config: Path | None,
) -> tuple[str, str, Counts]:
    """(image ID, manifest digest at the destination, counts) of the one image copied."""
    if src.is_registry:
        ref = parse_remote(src.name)
        with open_repository(ref, [auth.scope(ref.path, "pull")], tls_verify, docker_config) as r:
            found = remote.fetch(r, ref.digest or ref.tag, platform=platform, progress=progress)
            image = found.image.with_names(_names(dst, "" if ref.digest else ref.familiar))
            return image.id, _write(image, dst, progress), (len(image.layers) + 1, 0, 0)
    with _archive_image(src, platform) as image:
        if dst.is_registry:
            return _push(image, dst, tls_verify, progress, docker_config)
        named = image.with_names(_names(dst, image.names[0] if image.names else ""))
        return image.id, _write(named, dst, progress), (len(image.layers) + 1, 0, 0)


def _push(
    image: Image, dst: Endpoint, tls_verify: bool, progress: Progress, docker_config: Path | None
) -> tuple[str, str, Counts]:
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
    pushed, mounted, existed = (sum(b.how == how for b in blobs) for how in HOWS)
    return image.id, result.manifest_digest, (pushed, mounted, existed)


@contextmanager
def _archive_image(src: Endpoint, platform: Platform | None) -> Iterator[Image]:
    """The one image of an archive that `src` names (its only one when it names none)."""
    with (
        tempfile.TemporaryDirectory(prefix="lamina-copy-") as scratch,
        open_archive(src.path, Path(scratch)) as fs,
    ):
        images = read_images(fs, platform)
        if src.name:
            short = f"{oci_layout.SHORT_NAME_DOMAIN}/{src.name}"
            wanted = {n for n in (_familiar(src.name), _familiar(short)) if n}
            images = [i for i in images if wanted & set(i.names)]
            if not images:
                raise UsageError(f"{fs.label} holds no image named {src.name}")
        if len(images) != 1:
            names = ", ".join(n for i in images for n in i.names) or "unnamed images"
            raise UsageError(
                f"{fs.label} holds {len(images)} images ({names})",
                f"name one: {src.transport}:PATH:NAME",
            )
        yield images[0]


def _names(dst: Endpoint, default: str) -> list[str]:
    name = dst.name or default
    familiar = _familiar(name) if name else ""
    if name and not familiar:
        raise UsageError(f"invalid image name {name!r}", "write NAME[:TAG]")
    return [familiar] if familiar else []


def _familiar(name: str) -> str:
    ref = reference.try_parse(name)
    return ref.familiar if ref is not None and ref.tag else ""


def _write(image: Image, dst: Endpoint, progress: Progress) -> str:
    """Write one image as `dst`'s kind of archive; returns its manifest digest there."""
    if dst.transport == "oci":
        from lamina.transports.layout_ends import DirTarget

        staged = DirTarget(Path(dst.path), "")  # checks the path, stages beside it
        try:
            oci_layout.write_dir([image], staged.staging)
            staged.rename()
        finally:
            staged.abandon()
    else:
        fmt = "docker" if dst.transport == "docker-archive" else "oci"
        with atomic.output(dst.path) as out:
            archive_writer.write_archive([image], out, fmt, progress=progress, label="Copying")
    return digest.of_bytes(image.manifest_bytes())
