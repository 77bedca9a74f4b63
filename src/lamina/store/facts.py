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
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lamina import digest
from lamina.atomic import write_atomic
from lamina.image import Image

VERSION = 1


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
            keys.append(hashlib.sha256(text.encode()).hexdigest()[:32])
        sizes = tuple(layer.size for layer in image.layers)
        return cls(image.id, image.config.created, image.diff_ids, sizes, tuple(keys))

    @cached_property
    def chain_ids(self) -> tuple[str, ...]:
        return tuple(digest.chain_ids(self.diff_ids))

    @property
    def size(self) -> int:
        return sum(self.sizes)

    @property
    def history_length(self) -> int:
        return len(self.history) - 1

    def to_json(self) -> list[Any]:
        return [self.id, self.created, list(self.diff_ids), list(self.sizes), list(self.history)]

    @classmethod
    def from_json(cls, row: Any) -> Facts:
        ident, created, diff_ids, sizes, history = row
        return cls(ident, created, tuple(diff_ids), tuple(sizes), tuple(history))


class FactsCache:
    """`facts.json`: Facts by manifest digest. Reading never fails; writing may quietly not."""

    def __init__(self, path: Path, tmp_dir: Path) -> None:
        self.path = path
        self.tmp_dir = tmp_dir
        self._rows: dict[str, Any] | None = None
        self.facts: dict[str, Facts] = {}
        self._dirty = False

    def rows(self) -> dict[str, Any]:
        if self._rows is None:
            self._rows = self._read()
        return self._rows

    def get(self, manifest_digest: str) -> Facts | None:
        facts = self.facts.get(manifest_digest)
        if facts is None:
            row = self.rows().get(manifest_digest)
            if row is None:
                return None
            try:
                facts = Facts.from_json(row)
            except (TypeError, ValueError):
                return None
            self.facts[manifest_digest] = facts
        return facts

    def put(self, manifest_digest: str, facts: Facts) -> None:
        self.facts[manifest_digest] = facts
        self.rows()[manifest_digest] = facts.to_json()
        self._dirty = True

    def save(self, keep: Mapping[str, object]) -> None:
        """Write the rows of the manifests in `keep` back, if anything was added."""
        if not self._dirty:
            return
        self._dirty = False
        rows = {m: r for m, r in self.rows().items() if m in keep}
        data = json.dumps({"version": VERSION, "images": rows}, separators=(",", ":"))
        with contextlib.suppress(OSError):  # a read-only store lists more slowly, that is all
            write_atomic(self.path, data.encode(), self.tmp_dir)

    def _read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            return {}
        rows = doc.get("images")
        return rows if isinstance(rows, dict) else {}
