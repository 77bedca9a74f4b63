"""Config history bookkeeping shared by squash, flatten and rebase.

History entries pair with layers in order, skipping `empty_layer` entries. Images
from some tools have fewer history entries than layers; then only the pairs that
exist are known and new entries go at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.jsondoc import thaw
from lamina.spec import Config


def raw_history(config: Config) -> list[dict[str, Any]]:
    """A mutable copy of the config's history entries, as they are in the JSON."""
    return [thaw(h) if isinstance(h, Mapping) else {} for h in config.doc.get("history") or ()]


def layer_positions(history: list[dict[str, Any]], layer_count: int) -> list[int]:
    """Index in `history` of the entry that made each layer (shorter if history is short)."""
    positions = [i for i, h in enumerate(history) if not h.get("empty_layer")]
    return positions[:layer_count]


def with_layers(config: Config, diff_ids: list[str], history: list[dict[str, Any]]) -> Config:
    """`config` with new rootfs.diff_ids and history; every other field kept."""
    rootfs = thaw(config.doc.get("rootfs") or {})
    rootfs["type"] = rootfs.get("type", "layers")
    rootfs["diff_ids"] = diff_ids
    return config.with_changes(rootfs=rootfs, history=history or None)
