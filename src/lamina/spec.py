"""OCI/Docker JSON documents as typed values that keep their raw bytes.

Parsing never changes the bytes a digest was computed over: `raw` is what was
read, and `to_json()` is only used for documents lamina creates itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from lamina import digest, mediatype, platforms
from lamina.errors import InvalidInputError, UsageError
from lamina.jsondoc import canonical_json as canonical_json
from lamina.jsondoc import freeze, thaw
from lamina.jsondoc import load_json as load_json
from lamina.jsondoc import parse_json as parse_json

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"
BASE_NAME = "org.opencontainers.image.base.name"
# 2^53: the largest size JSON carries exactly (and 8 PiB, far beyond any real blob); a
# descriptor declaring more is refused before anything is read
MAX_BLOB_SIZE = 1 << 53


@dataclass(frozen=True)
class Platform:
    """Where an image runs: os/architecture[/variant], as OCI index entries name it."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        tail = f"/{self.variant}" if self.variant else ""
        return f"{self.os}/{self.architecture}{tail}"

    @classmethod
    def of(cls, given: Platform | str | None) -> Platform | None:
        """A Platform as a caller gives it: a Platform, Docker's text form, or None."""
        return cls.parse(given) if isinstance(given, str) else given

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Docker's forms: `linux/arm64/v8`, `linux/amd64`, a bare known arch (`arm64`)."""
        parts = text.split("/")
        if len(parts) == 1 and platforms.normalize(text)[0] in platforms.KNOWN:
            return cls("linux", *platforms.normalize(text))
        if len(parts) not in (2, 3) or not all(parts):
            known = ", ".join(sorted(platforms.KNOWN))
            hint = f"use [OS/]ARCH[/VARIANT], e.g. linux/amd64 or arm64; ARCH is one of {known}"
            raise UsageError(f"bad platform {text!r}", hint)
        return cls(parts[0], *platforms.normalize(parts[1], parts[2] if len(parts) == 3 else ""))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: Any, what: str) -> Descriptor:
        if not isinstance(obj, dict):
            raise InvalidInputError(f"{what}: descriptor is not an object", "the file is corrupt")
        try:
            media_type = obj.get("mediaType", "")  # unknown: readers decide by context
            size = obj["size"]
            dig = digest.validate(obj["digest"])
        except KeyError as exc:
            raise InvalidInputError(
                f"{what}: descriptor lacks {exc}", "the file is corrupt"
            ) from None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_BLOB_SIZE:
            raise InvalidInputError(f"{what}: bad size {size!r}", "the file is corrupt")
        plat = obj.get("platform")
        platform = None
        if isinstance(plat, dict):
            platform = Platform(
                str(plat.get("os", "")),
                str(plat.get("architecture", "")),
                str(plat.get("variant", "")),
            )
        return cls(
            media_type=str(media_type),
            digest=dig,
            size=size,
            annotations=dict(obj.get("annotations") or {}),
            platform=platform,
            urls=tuple(obj.get("urls") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            plat = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                plat["variant"] = self.platform.variant
            out["platform"] = plat
        return out


@dataclass(frozen=True)
class Manifest:
    raw: bytes
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str]

    @property
    def digest(self) -> str:
        return digest.of_bytes(self.raw)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> Manifest:
        obj = parse_json(raw, "image manifest")
        # umoci (and the OCI spec before 1.1) omit mediaType; the descriptor's type stands in
        kind = obj.get("mediaType") or media_type or mediatype.OCI_MANIFEST
        if obj.get("schemaVersion") == 1:
            raise InvalidInputError(
                "Docker schema 1 manifests are not supported", "convert the image with a newer tool"
            )
        mediatype.check_manifest(kind)
        if "config" not in obj or not isinstance(obj.get("layers", []), list):
            raise InvalidInputError("image manifest lacks config or layers", "the file is corrupt")
        config = Descriptor.from_json(obj["config"], "manifest config")
        layers = tuple(
            Descriptor.from_json(d, f"manifest layer {i}")
            for i, d in enumerate(obj.get("layers", []))
        )
        for layer in layers:
            mediatype.layer_compression(layer.media_type)
        return cls(raw, kind, config, layers, dict(obj.get("annotations") or {}))

    @staticmethod
    def build(
        config: Descriptor, layers: list[Descriptor], annotations: Mapping[str, str] | None = None
    ) -> bytes:
        """Serialise a new OCI image manifest (for images lamina makes or re-layers)."""
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatype.OCI_MANIFEST,
            "config": config.to_json(),
            "layers": [d.to_json() for d in layers],
        }
        if annotations:
            doc["annotations"] = dict(annotations)
        return canonical_json(doc)


@dataclass(frozen=True)
class Index:
    raw: bytes
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str]

    @classmethod
    def parse(cls, raw: bytes, what: str = "image index") -> Index:
        obj = parse_json(raw, what)
        kind = obj.get("mediaType", mediatype.OCI_INDEX)
        if kind not in mediatype.INDEXES:
            raise InvalidInputError(f"unknown index media type {kind!r}", "expected an OCI index")
        entries = obj.get("manifests")
        if not isinstance(entries, list):
            raise InvalidInputError(f"{what} lacks a manifests list", "the file is corrupt")
        descs = tuple(Descriptor.from_json(d, f"{what} entry {i}") for i, d in enumerate(entries))
        return cls(raw, descs, dict(obj.get("annotations") or {}))

    @staticmethod
    def build(manifests: list[Descriptor]) -> bytes:
        doc = {
            "schemaVersion": 2,
            "mediaType": mediatype.OCI_INDEX,
            "manifests": [d.to_json() for d in manifests],
        }
        return canonical_json(doc)


@dataclass(frozen=True)
class HistoryEntry:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def from_json(cls, obj: Any) -> HistoryEntry:
        obj = obj if isinstance(obj, dict) else {}
        return cls(
            created=str(obj.get("created", "")),
            created_by=str(obj.get("created_by", "")),
            author=str(obj.get("author", "")),
            comment=str(obj.get("comment", "")),
            empty_layer=bool(obj.get("empty_layer", False)),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True)
class Config:
    """An image config. `raw` is what the image ID hashes; `doc` is its parsed form.

    A value: `doc` and everything derived from it are read-only and computed once
    (`doc` lazily, as most readers need only `diff_ids`, `history` or `created`).
    `source` is the parsed JSON itself; nothing outside this class may hold it.
    """

    raw: bytes
    source: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> Config:
        doc = parse_json(raw, "image config")
        rootfs = doc.get("rootfs")
        if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
            raise InvalidInputError("image config lacks rootfs.diff_ids", "the file is corrupt")
        for d in rootfs["diff_ids"]:
            digest.validate(d)
        return cls(raw, doc)

    @cached_property
    def doc(self) -> Mapping[str, Any]:
        """The parsed config, read-only all the way down (`thaw` makes a mutable copy)."""
        frozen: Mapping[str, Any] = freeze(self.source)
        return frozen

    @cached_property
    def id(self) -> str:
        return digest.of_bytes(self.raw)

    @cached_property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(self.source["rootfs"]["diff_ids"])

    @cached_property
    def history(self) -> tuple[HistoryEntry, ...]:
        return tuple(HistoryEntry.from_json(h) for h in self.source.get("history") or ())

    @cached_property
    def created(self) -> str:
        return str(self.source.get("created", ""))

    @property
    def platform(self) -> Platform:
        return Platform(
            str(self.source.get("os", "")),
            str(self.source.get("architecture", "")),
            str(self.source.get("variant", "")),
        )

    @property
    def container_config(self) -> Mapping[str, Any]:
        value = self.doc.get("config")
        return value if isinstance(value, Mapping) else MappingProxyType({})

    def layer_history(self) -> list[HistoryEntry | None]:
        """The history entry that made each layer (None where history is short)."""
        entries = [h for h in self.history if not h.empty_layer]
        out: list[HistoryEntry | None] = list(entries[: len(self.diff_ids)])
        return out + [None] * (len(self.diff_ids) - len(out))

    def with_changes(self, **changes: Any) -> Config:
        """A new config with top-level keys replaced (None deletes); serialised canonically."""
        doc = thaw(self.source)
        for key, value in changes.items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = thaw(value)
        return Config(canonical_json(doc), doc)
