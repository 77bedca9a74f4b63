"""What listing needs of a stored image, and a cache of it that never goes stale.

Facts are derived from an image's manifest and config alone: its ID, creation
time, layers (diff_ids and sizes) and history keys (`history[k]` hashes the
first k history entries as HistoryEntry values see them, so equal prefixes have
equal keys). A store keeps them in `STORE/lamina/facts.json` keyed by manifest
digest: manifests are content-addressed, so an entry is true for as long as its
manifest exists. A missing, damaged or foreign cache is simply rebuilt; `images`,
`tree` and `rmi` then read one file instead of two blobs per image. Verbs that
use an image's content (inspect, history, save, squash...) still load and verify
its blobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lamina import digest
from lamina.atomic import write_atomic
from lamina.image import Image

VERSION = 3  # 3: the file starts with the sha256 of the JSON after it
_CHAINS: dict[tuple[str, str], str] = {}  # (chain below, diff_id) -> chain ID


@dataclass(frozen=True)
class Facts:
    id: str
    created: str
    diff_ids: tuple[str, ...]
    sizes: tuple[int, ...]  # of each layer, in order
    history: tuple[str, ...]  # history keys: one more than history entries

    @classmethod
    def of(cls, image: Image) -> Facts:
        keys = [""]
        for entry in image.history:
            fields = (entry.created, entry.created_by, entry.author, entry.comment)
            text = json.dumps([keys[-1], *fields, entry.empty_layer])
            keys.append(hashlib.sha256(text.encode()).hexdigest()[:24])
        sizes = tuple(layer.size for layer in image.layers)
        return cls(image.id, image.config.created, image.diff_ids, sizes, tuple(keys))

    @cached_property
    def chain_ids(self) -> tuple[str, ...]:
        """Docker's chain IDs (digest.chain_ids), computed once per chain in a process:
        the images of a store share most of theirs."""
        chains: list[str] = []
        for diff_id in self.diff_ids:
            link = (chains[-1] if chains else "", diff_id)
            chain = _CHAINS.get(link)
            if chain is None:
                chain = _CHAINS[link] = digest.chain_ids([*chains[-1:], diff_id])[-1]
            chains.append(chain)
        return tuple(chains)

    @property
    def size(self) -> int:
        return sum(self.sizes)

    @property
    def history_length(self) -> int:
        return len(self.history) - 1


class FactsCache:
    """`facts.json`: Facts by manifest digest. Reading never fails; writing may quietly not.

    Layers and history keys are shared by many images, so the file lists each once
    (`layers`: [diff_id, size], `keys`) and images refer to them by position.
    """

    def __init__(self, path: Path, tmp_dir: Callable[[], Path]) -> None:
        self.path = path
        self.tmp_dir = tmp_dir
        self._doc: dict[str, Any] | None = None
        self.facts: dict[str, Facts] = {}
        self._dirty = False

    def get(self, manifest_digest: str) -> Facts | None:
        facts = self.facts.get(manifest_digest)
        if facts is None:
            doc = self._read()
            row = doc["images"].get(manifest_digest)
            if row is None:
                return None
            try:
                facts = _decode(row, doc["diff_ids"], doc["sizes"], doc["keys"])
            except (TypeError, ValueError, IndexError, KeyError):
                return None
            self.facts[manifest_digest] = facts
        return facts

    def put(self, manifest_digest: str, facts: Facts) -> None:
        self.facts[manifest_digest] = facts
        self._dirty = True

    def save(self, keep: Mapping[str, object]) -> None:
        """Write the facts of the manifests in `keep` back, if any were added."""
        if not self._dirty:
            return
        self._dirty = False
        layers: dict[tuple[str, int], int] = {}
        keys: dict[str, int] = {}
        rows = {}
        for manifest in keep:
            f = self.get(manifest)
            if f is not None:
                ls = [
                    layers.setdefault(x, len(layers)) for x in zip(f.diff_ids, f.sizes, strict=True)
                ]
                ks = [keys.setdefault(k, len(keys)) for k in f.history]
                rows[manifest] = [f.id, f.created, ls, ks]
        doc = {"version": VERSION, "layers": list(layers), "keys": list(keys), "images": rows}
        body = json.dumps(doc, separators=(",", ":")).encode()
        data = hashlib.sha256(body).hexdigest().encode() + b"\n" + body
        with contextlib.suppress(OSError):  # a read-only store lists more slowly, that is all
            write_atomic(self.path, data, self.tmp_dir())

    def _read(self) -> dict[str, Any]:
        if self._doc is None:
            self._doc = _parse(self.path)
        return self._doc


def _parse(path: Path) -> dict[str, Any]:
    """The cache file's tables, or empty ones when it is missing, damaged or foreign."""
    empty: dict[str, Any] = {"diff_ids": [], "sizes": [], "keys": [], "images": {}}
    try:
        # `rmi` decides what to delete from these facts: a file damaged in any way, even
        # into other valid JSON, fails its checksum and is rebuilt from the blobs
        checksum, _, body = path.read_bytes().partition(b"\n")
        if hashlib.sha256(body).hexdigest().encode() != checksum:
            return empty
        doc = json.loads(body)
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            return empty
        layers = [(str(d), int(n)) for d, n in doc["layers"]]
        keys = [str(k) for k in doc["keys"]]
        images = doc["images"]
    except (OSError, ValueError, TypeError, KeyError):
        return empty
    if not isinstance(images, dict):
        return empty
    return {
        "diff_ids": [d for d, _ in layers],
        "sizes": [n for _, n in layers],
        "keys": keys,
        "images": images,
    }


def _decode(row: Any, diff_ids: list[str], sizes: list[int], keys: list[str]) -> Facts:
    ident, created, ls, ks = row
    return Facts(
        ident,
        created,
        tuple(map(diff_ids.__getitem__, ls)),
        tuple(map(sizes.__getitem__, ls)),
        tuple(map(keys.__getitem__, ks)),
    )
