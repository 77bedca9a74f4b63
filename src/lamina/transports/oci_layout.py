"""OCI image layouts (a directory, or the same inside a tar): read and write.

Reading accepts any compression and manifests without `mediaType` (umoci).
Names come from `io.containerd.image.name` (Docker 25+), else from
`org.opencontainers.image.ref.name`. A ref.name with no `/` is a short name, as
skopeo (`oci:DIR:NAME`) and umoci (`--image DIR:TAG`) write it: it is named as
`podman load` names it, `localhost/NAME` with `:latest` when it has no tag (umoci's
`1` becomes `localhost/1:latest`, skopeo's `app:2` becomes `localhost/app:2`); one
that is no valid name (`Upper`) leaves the image untagged. A ref.name with a `/` is a
whole reference (`local/app:1`), as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from lamina import digest, mediatype, platforms, reference
from lamina.atomic import replacing
from lamina.errors import InvalidInputError, NotFoundError
from lamina.image import Artifact, Image, Layer
from lamina.spec import (
    CONTAINERD_NAME,
    REF_NAME,
    Config,
    Descriptor,
    Index,
    Manifest,
    Platform,
    parse_json,
)
from lamina.transports.tarfs import ArchiveFS

Blobs = Callable[[str], BinaryIO]  # opens a blob by digest
# layers of cosign signatures and in-toto attestations (their configs are image configs)
SIGNATURE_LAYERS = ("application/vnd.dev.cosign.", "application/vnd.in-toto+json")

MAX_INDEX_DEPTH = 4
SHORT_NAME_DOMAIN = "localhost"  # where podman puts a short ref.name


def blob_path(dig: str) -> str:
    algo, _, hexpart = digest.validate(dig).partition(":")
    return f"blobs/{algo}/{hexpart}"


def read_blob(fs: ArchiveFS, desc: Descriptor, what: str) -> bytes:
    try:
        data = fs.read_bytes(blob_path(desc.digest))
    except NotFoundError:
        raise InvalidInputError(f"{fs.label}: {what} {desc.digest} is missing") from None
    digest.check(desc.digest, digest.of_bytes(data), f"{what} in {fs.label}")
    return data


def is_layout(fs: ArchiveFS) -> bool:
    return fs.exists("oci-layout") and fs.exists("index.json")


def name_of(desc: Descriptor) -> str:
    """The familiar image name an index entry carries, or "" if it names none."""
    if containerd := _named(desc.annotations.get(CONTAINERD_NAME, "")):
        return containerd
    value = desc.annotations.get(REF_NAME, "")
    if value and "/" not in value:  # a short name (see the module doc): podman's rule
        value = f"{SHORT_NAME_DOMAIN}/{value}"
    return _named(value)


def _named(value: str) -> str:
    ref = reference.try_parse(value) if value else None
    return ref.familiar if ref is not None and ref.tag else ""


def _manifests(
    fs: ArchiveFS, descs: tuple[Descriptor, ...], platform: Platform | None, depth: int = 0
) -> Iterator[tuple[Descriptor, Manifest]]:
    for desc in descs:
        if desc.media_type in mediatype.INDEXES:
            if depth >= MAX_INDEX_DEPTH:
                raise InvalidInputError(f"{fs.label}: image indexes nested too deeply")
            nested = Index.parse(read_blob(fs, desc, "image index"))
            chosen = choose_platform(nested.manifests, platform, fs.label)
            for child, manifest in _manifests(fs, chosen, platform, depth + 1):
                yield (desc if desc.annotations else child), manifest
        elif not desc.media_type or desc.media_type in mediatype.MANIFESTS:
            raw = read_blob(fs, desc, "manifest")
            if _is_image(raw, f"{fs.label}: manifest {digest.short(desc.digest, algorithm=True)}"):
                yield desc, Manifest.parse(raw, desc.media_type)
        # else: "an encountered mediaType that is unknown MUST be ignored" (OCI image spec)


def _is_image(raw: bytes, what: str) -> bool:
    """False for an artifact (signature, SBOM, ...): its config is not an image config.
    It is skipped, so it does not stand in the way of the images beside it."""
    doc = parse_json(raw, what)
    config = doc.get("config")
    if not isinstance(config, dict) or "mediaType" not in config:
        return True  # let Manifest.parse say what is wrong, if anything
    if "subject" in doc or doc.get("artifactType"):
        return False  # an OCI 1.1 artifact, whatever its config (cosign's is an image config)
    layers = [str(x.get("mediaType")) for x in doc.get("layers") or [] if isinstance(x, dict)]
    if any(kind.startswith(SIGNATURE_LAYERS) for kind in layers):
        return False  # a cosign signature or attestation: its layers are not tars
    return config["mediaType"] in mediatype.CONFIGS


def choose_platform(
    descs: tuple[Descriptor, ...], wanted: Platform | None, label: str
) -> tuple[Descriptor, ...]:
    """From a multi-platform index keep the one manifest for `wanted` (default: this host)."""
    with_platform = [d for d in descs if d.platform is not None]
    if not with_platform:
        return descs
    target = wanted or host_platform()
    for d in with_platform:
        p = d.platform
        assert p is not None
        if p.os == target.os and platforms.matches(
            (p.architecture, p.variant), (target.architecture, target.variant)
        ):
            return (d,)
    offered = ", ".join(str(d.platform) for d in with_platform)
    which = "" if wanted else " (this machine's platform)"
    raise NotFoundError(
        f"{label} has no image for {target}{which}",
        f"it offers {offered}",
        command="choose one of them with --platform",
    )


def host_platform() -> Platform:
    return Platform("linux", *platforms.host())


def read_layout(fs: ArchiveFS, platform: Platform | None = None) -> list[Image]:
    index = Index.parse(fs.read_bytes("index.json"), f"{fs.label}: index.json")
    found: dict[str, tuple[Image, list[str]]] = {}
    for desc, manifest in _manifests(fs, index.manifests, platform):
        mediatype.check_config(manifest.config.media_type)
        config = Config.parse(read_blob(fs, manifest.config, "image config"))
        if len(manifest.layers) != len(config.diff_ids):
            raise InvalidInputError(
                f"{fs.label}: manifest {desc.digest} has {len(manifest.layers)} layers "
                f"but its config lists {len(config.diff_ids)}"
            )
        layers = tuple(
            _layer(fs, d, diff_id)
            for d, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
        )
        image = Image(config, layers, annotations=manifest.annotations)
        entry = found.setdefault(config.id, (image, []))
        if name := name_of(desc):
            entry[1].append(name)
    return [image.with_names(sorted(set(names))) for image, names in found.values()]


def _layer(fs: ArchiveFS, desc: Descriptor, diff_id: str) -> Layer:
    """A layer of the layout; one whose blob is absent is left out, as a delta
    docker-archive leaves layer files out (the store must have it: else exit 6)."""
    path = blob_path(desc.digest)
    if not fs.exists(path):
        if fs.listed(path):
            raise InvalidInputError(f"{fs.label}: blob {desc.digest} is not a regular file")
        return Layer(diff_id, desc.digest, desc.size, desc.media_type, _absent(fs, path), False)
    actual = fs.size(path)
    if actual != desc.size:
        raise InvalidInputError(
            f"{fs.label}: layer {digest.short(desc.digest, algorithm=True)} is {actual} bytes, "
            f"its descriptor says {desc.size}",
            "the layout is damaged",
        )
    opener = _opener(fs, desc.digest)
    return Layer(diff_id, desc.digest, desc.size, desc.media_type, opener, spool=fs.spooled(path))


def _absent(fs: ArchiveFS, path: str) -> Callable[[], BinaryIO]:
    def fail() -> BinaryIO:
        raise NotFoundError(f"{fs.label} does not carry layer blob {path}")

    return fail


def _opener(fs: ArchiveFS, dig: str) -> Callable[[], BinaryIO]:
    path = blob_path(dig)
    return lambda: fs.open(path)


def layout_files(
    images: list[Image], tags: bool = True, artifacts: Sequence[Artifact] = ()
) -> tuple[bytes, bytes]:
    """(oci-layout, index.json) for images written as an OCI layout.

    `artifacts` (save --with-referrers) are listed after the images, as oras lists
    the referrers it holds: a cosign tag as the entry's ref name, an OCI referrer
    untagged (its manifest's `subject` says what it refers to).
    """
    entries: list[Descriptor] = []
    for image in images:
        manifest = image.manifest_bytes()
        desc = Descriptor(mediatype.OCI_MANIFEST, digest.of_bytes(manifest), len(manifest))
        names = image.names if tags and image.names else ("",)
        for name in names:
            annotations = {}
            if name:
                annotations = {CONTAINERD_NAME: str(reference.parse(name)), REF_NAME: name}
            entries.append(Descriptor(desc.media_type, desc.digest, desc.size, annotations))
    entries += [
        Descriptor(a.media_type, a.digest, a.size, {REF_NAME: a.tag} if a.tag else {})
        for a in artifacts
    ]
    layout = json.dumps({"imageLayoutVersion": mediatype.OCI_LAYOUT_VERSION}).encode()
    return layout, Index.build(entries)


def write_dir(
    images: list[Image], root: Path, artifacts: Sequence[tuple[Artifact, Blobs]] = ()
) -> int:
    """Write images as an OCI layout directory (created if needed); returns bytes written.

    `artifacts`: each with what opens its manifest and blobs by digest."""
    import shutil

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    written = 0

    def put(dig: str, data: bytes | None, opener: Callable[[], BinaryIO] | None = None) -> None:
        nonlocal written
        target = root / blob_path(dig)
        if target.exists():
            return
        with replacing(target, mode=0o666, durable=False) as f:
            if data is not None:
                f.write(data)
            elif opener is not None:
                with opener() as src:
                    shutil.copyfileobj(src, f, 1 << 20)
            written += f.tell()

    for image in images:
        for layer in image.layers:
            put(layer.digest, None, layer.open_blob)
        put(image.id, image.config.raw)
        manifest = image.manifest_bytes()
        put(digest.of_bytes(manifest), manifest)
    for artifact, open_blob in artifacts:
        for dig in (artifact.digest, *(b.digest for b in artifact.blobs)):
            put(dig, None, lambda d=dig, o=open_blob: o(d))  # type: ignore[misc]
    layout, index = layout_files(images, artifacts=[a for a, _ in artifacts])
    (root / "oci-layout").write_bytes(layout)
    (root / "index.json").write_bytes(index)
    return written + len(layout) + len(index)
