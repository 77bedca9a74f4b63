"""Docker's size of each stored layer, remembered in STORE/lamina/sizes.json.

Docker shows a layer's size as the sum of its tar entries' sizes (moby's UnpackLayer
adds hdr.Size), not the tar's bytes, so `images`, `history` and `inspect` need every
layer's sizes once. They are read from the layer's header index (the sum of its size
column, streamed: store/headerindex.py), which the store wrote when the layer came in;
an index that is missing or damaged is rebuilt from the tar's headers as they are
summed (never trusted wrong: docs/design.md §10). Layers are content-addressed, so a
size found once holds for ever: it is kept by diff_id. The file is a cache too: a
missing or damaged one is rebuilt from the indexes, and sizes are only shown, never
acted on.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from lamina.atomic import write_atomic
from lamina.store.headerindex import HeaderIndexes


class LayerSizes:
    """diff_id -> Docker's size of that layer; call `save()` to remember new ones."""

    def __init__(
        self,
        path_of: Callable[[str], Path],
        cache: Path,
        tmp_dir: Callable[[], Path],
        indexes: HeaderIndexes,
    ) -> None:
        self._path_of, self._cache, self._tmp_dir = path_of, cache, tmp_dir
        self._indexes = indexes
        self._known = _read(cache)
        self._new = False

    def __call__(self, diff_id: str) -> int:
        size = self._known.get(diff_id)
        if size is None:
            with open(self._path_of(diff_id), "rb") as f:
                size = self._indexes.content_size(diff_id, f)
            self._known[diff_id], self._new = size, True
        return size

    def save(self) -> None:
        if self._new:
            self._new = False
            data = json.dumps(self._known, separators=(",", ":"), sort_keys=True).encode()
            with contextlib.suppress(OSError):  # a read-only store shows sizes more slowly
                write_atomic(self._cache, data, self._tmp_dir())


def _read(path: Path) -> dict[str, int]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and type(v) is int and v >= 0}
