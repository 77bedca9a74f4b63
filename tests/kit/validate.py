"""validate_image: every claim an image makes, checked against its bytes.

Independent of lamina (stdlib json/hashlib/tarfile, plus zstandard), as
go-containerregistry's pkg/v1/validate is of its readers. For one image:

- the config blob hashes to the config descriptor's digest and size, and that digest
  is the image ID; `rootfs.type == "layers"`; `rootfs.diff_ids` are sha256 digests,
  one per layer;
- history pairs with layers: the entries without `empty_layer: true` are exactly as
  many as the layers (an image with no history at all is allowed);
- every layer blob hashes to its descriptor's digest and size; its media type says the
  compression its magic bytes show; decompressed, it is a readable tar whose sha256
  is the config's diff_id at that position;
- the manifest (when there is one) is schemaVersion 2, its own mediaType (if any)
  agrees with the descriptor that named it, and it hashes to that descriptor;
- a lamina value (Image, StoredImage) also agrees with the bytes: id, diff_ids,
  chain_ids, history, layer digests/sizes/media types, and the manifest it would write.

Every check runs; `Invalid` lists all problems. Layers a delta leaves out are
skipped when their diff_id is in `omitted`; `media_types=False` accepts a layer whose
media type lies about its compression (a real tool's quirk; lamina must not write one).

    validate_image(lamina.get_image(store, "app:1"))  # or validate_manifest(raw, blobs)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tarfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import zstandard

Blobs = Callable[[str], BinaryIO | None]  # digest -> a stream of the blob, None if absent
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


class Invalid(AssertionError):
    """An image, archive or store that does not hold what it says (all problems listed)."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        super().__init__(f"{what}:\n  " + "\n  ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Checked:
    """What a valid image turned out to be."""

    id: str
    diff_ids: tuple[str, ...]
    chain_ids: tuple[str, ...]
    manifest: str | None = None  # digest of the manifest, when there was one
    names: tuple[str, ...] = ()  # RepoTags, or the ref.name that listed it in an index


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else sha(f"{out[-1]} {d}".encode()))
    return tuple(out)


def stream_digest(stream: BinaryIO) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    while chunk := stream.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
    return "sha256:" + h.hexdigest(), size


# -- config ---------------------------------------------------------------------------
def check_config(raw: bytes, layers: int | None = None) -> tuple[tuple[str, ...], list[str]]:
    """(diff_ids, problems) of raw config bytes; `layers`: how many the manifest lists."""
    try:
        doc = json.loads(raw)
        rootfs = doc["rootfs"]
        diff_ids = tuple(rootfs["diff_ids"])
    except (ValueError, KeyError, TypeError) as exc:
        return (), [f"config is not an image config ({exc!r})"]
    problems = []
    if rootfs.get("type") != "layers":
        problems.append(f"rootfs.type is {rootfs.get('type')!r}, not 'layers'")
    problems += [f"diff_id {d!r} is not a sha256 digest" for d in diff_ids if not DIGEST.match(d)]
    if layers is not None and layers != len(diff_ids):
        problems.append(f"config lists {len(diff_ids)} diff_ids, the manifest {layers} layers")
    history = doc.get("history") or []
    real = sum(1 for h in history if not h.get("empty_layer"))
    if history and real != len(diff_ids):
        problems.append(f"{real} non-empty history entries for {len(diff_ids)} layers")
    return diff_ids, problems


# -- layers ---------------------------------------------------------------------------
def sniff(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return "none"


def declared(media_type: str) -> str:
    return next((k for k in ("gzip", "zstd") if media_type.endswith(k)), "none")


class _Hashing:
    """Hashes what is read through it; `head` bytes already taken are read first."""

    def __init__(self, stream: Any, head: bytes = b"") -> None:
        self.stream, self.head, self.h, self.size = stream, head, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        if self.head:
            cut = len(self.head) if n is None or n < 0 else n
            data, self.head = self.head[:cut], self.head[cut:]
        else:
            data = self.stream.read(n if n is not None and n >= 0 else -1)
        self.h.update(data)
        self.size += len(data)
        return bytes(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self.h.hexdigest()


def diff_id_of(blob: BinaryIO) -> tuple[str, str, str, int, list[str]]:
    """(compression, diff_id, digest, size, problems) of a layer blob, in one pass:
    the blob is hashed, decompressed and read as a tar to its end."""
    raw = _Hashing(blob)
    head = raw.read(4)
    kind = sniff(head)
    source = _Hashing(raw, head)
    source.h, source.size = hashlib.sha256(), 0  # raw already counted the head
    plain: Any = source
    if kind == "gzip":
        plain = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
    elif kind == "zstd":
        plain = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
    tar_bytes = _Hashing(plain)
    problems = []
    try:
        with tarfile.open(fileobj=tar_bytes, mode="r|") as tar:  # type: ignore[call-overload]
            for _ in tar:
                pass
        while tar_bytes.read(1 << 20):
            pass
    except (tarfile.TarError, OSError, EOFError, zstandard.ZstdError) as exc:
        problems.append(f"not a readable {kind} tar ({exc})")
    while raw.read(1 << 20):
        pass
    return kind, tar_bytes.digest, raw.digest, raw.size, problems


def check_layer(blob: BinaryIO, digest: str | None, size: int | None, media_type: str | None,
                diff_id: str) -> list[str]:  # fmt: skip
    """A layer blob against its descriptor (digest, size, media type; None: not known)
    and its diff_id."""
    kind, real, got, got_size, problems = diff_id_of(blob)
    digest = digest or got
    problems = [f"layer {digest[:19]}: {p}" for p in problems]
    if got != digest:
        problems.append(f"blob {digest[:19]} hashes to {got}")
    if size is not None and got_size != size:
        problems.append(f"blob {digest[:19]} is {got_size} bytes, its descriptor says {size}")
    if media_type is not None and declared(media_type) != kind:
        problems.append(f"layer {digest[:19]} is {kind} but its media type is {media_type}")
    if real != diff_id:
        problems.append(f"layer {digest[:19]} uncompressed is {real}, config says {diff_id}")
    return problems


# -- manifests ------------------------------------------------------------------------
def validate_manifest(
    raw: bytes,
    blobs: Blobs,
    descriptor: dict[str, Any] | None = None,
    omitted: Collection[str] = (),
    media_types: bool = True,
) -> Checked:
    """An image given by its raw manifest (and the descriptor that named it, if any).
    media_types=False: trust the bytes over layer media types (podman's uncompressed OCI
    output labels plain tars +gzip)."""
    problems = []
    named = descriptor or {"digest": sha(raw), "size": len(raw)}
    if (sha(raw), len(raw)) != (named.get("digest"), named.get("size")):
        problems.append(f"manifest is {sha(raw)}/{len(raw)}, its descriptor says "
                        f"{named.get('digest')}/{named.get('size')}")  # fmt: skip
    doc = json.loads(raw)
    if doc.get("schemaVersion") != 2:
        problems.append(f"manifest schemaVersion is {doc.get('schemaVersion')!r}")
    kind = doc.get("mediaType")
    if kind is not None and descriptor is not None and kind != descriptor.get("mediaType"):
        problems.append(f"manifest says it is {kind}, its descriptor {descriptor.get('mediaType')}")
    config = read_all(blobs, doc["config"]["digest"])
    if config is None:
        raise Invalid("manifest " + sha(raw)[:19], ["its config blob is missing"])
    if sha(config) != doc["config"]["digest"] or len(config) != doc["config"]["size"]:
        problems.append(f"config blob is not {doc['config']['digest']}/{doc['config']['size']}")
    diff_ids, config_problems = check_config(config, len(doc["layers"]))
    problems += config_problems
    for desc, diff_id in zip(doc["layers"], diff_ids, strict=False):
        if diff_id in omitted:
            continue
        stream = blobs(desc["digest"])
        if stream is None:
            problems.append(f"layer blob {desc['digest'][:19]} is missing")
            continue
        with stream:
            kind = desc.get("mediaType") if media_types else None
            problems += check_layer(stream, desc["digest"], desc["size"], kind, diff_id)
    if problems:
        raise Invalid(f"image {sha(config)[:19]} (manifest {sha(raw)[:19]})", problems)
    name = (named.get("annotations") or {}).get("org.opencontainers.image.ref.name")
    return Checked(sha(config), diff_ids, chain_ids(diff_ids), sha(raw), (name,) if name else ())


def read_all(blobs: Blobs, key: str) -> bytes | None:
    """The whole of a (small) blob or file, None when absent."""
    stream = blobs(key)
    if stream is None:
        return None
    with stream:
        return stream.read()


# -- lamina's values ------------------------------------------------------------------
def validate_image(image: Any, omitted: Collection[str] = (), media_types: bool = True) -> Checked:
    """A lamina image value (Image, or a StoredImage holding one) against its bytes."""
    img = getattr(image, "image", image)
    raw: bytes = img.config.raw
    diff_ids, problems = check_config(raw, len(img.layers))
    claims = {
        "id": (img.id, sha(raw)),
        "diff_ids": (tuple(img.diff_ids), diff_ids),
        "chain_ids": (tuple(img.chain_ids), chain_ids(diff_ids)),
        "history length": (len(img.history), len(json.loads(raw).get("history") or [])),
    }
    problems += [f"{k} is {got}, the bytes say {want}" for k, (got, want) in claims.items()
                 if got != want]  # fmt: skip
    for layer, diff_id in zip(img.layers, diff_ids, strict=False):
        if layer.diff_id != diff_id:
            problems.append(f"layer {layer.digest[:19]} claims diff_id {layer.diff_id}")
        if not getattr(layer, "available", True) or diff_id in omitted:
            continue
        with layer.open_blob() as blob:
            kind = layer.media_type if media_types else None
            problems += check_layer(blob, layer.digest, layer.size, kind, diff_id)
    if hasattr(img, "manifest_bytes"):
        problems += _manifest_claims(json.loads(img.manifest_bytes()), img, raw)
    if problems:
        raise Invalid(f"image value {img.id[:19]}", problems)
    return Checked(sha(raw), diff_ids, chain_ids(diff_ids))


def _manifest_claims(doc: dict[str, Any], img: Any, raw: bytes) -> list[str]:
    problems = []
    if (doc["config"]["digest"], doc["config"]["size"]) != (sha(raw), len(raw)):
        problems.append(f"its manifest's config descriptor is {doc['config']}")
    got = [(d["digest"], d["size"], d["mediaType"]) for d in doc["layers"]]
    want = [(x.digest, x.size, x.media_type) for x in img.layers]
    if got != want:
        problems.append(f"its manifest lists layers {got}, the value {want}")
    return problems
