"""The layout's `index.json`: which manifests are roots, and under which names.

A tagged image has one entry per name, with the familiar name in
`org.opencontainers.image.ref.name` (so `skopeo copy oci:STORE:local/x:1` works)
and the full name in `io.containerd.image.name`. An untagged image that must
stay (a parent, a `<none>` image) has one entry without names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lamina import reference
from lamina.errors import InvalidInputError
from lamina.spec import CONTAINERD_NAME, REF_NAME, Descriptor, Index


@dataclass(frozen=True)
class Entry:
    manifest: Descriptor
    name: str  # familiar "repo:tag", or "" for an untagged root

    @property
    def descriptor(self) -> Descriptor:
        annotations = dict(self.manifest.annotations)
        annotations.pop(REF_NAME, None)
        annotations.pop(CONTAINERD_NAME, None)
        if self.name:
            annotations[REF_NAME] = self.name
            annotations[CONTAINERD_NAME] = str(reference.parse(self.name))
        return replace(self.manifest, annotations=annotations)


def read_entries(index_path: Path) -> list[Entry]:
    try:
        raw = index_path.read_bytes()
    except FileNotFoundError:
        return []
    index = Index.parse(raw, f"store index {index_path}")
    entries = []
    for desc in index.manifests:
        name = desc.annotations.get(REF_NAME, "")
        if name:
            ref = reference.try_parse(name)
            if ref is None:
                raise InvalidInputError(f"store index names an invalid reference {name!r}")
            name = ref.familiar
        entries.append(Entry(replace(desc, annotations={}), name))
    return entries


def render(entries: list[Entry]) -> bytes:
    ordered = sorted(entries, key=lambda e: (e.name == "", e.name, e.manifest.digest))
    return Index.build([e.descriptor for e in ordered])
