"""Opening the store and finding images in it: what every verb starts from."""

from __future__ import annotations

from pathlib import Path

from lamina.store.graph import Graph, resolve
from lamina.store.local import Store, StoredImage


def open_store(path: str | Path | None = None) -> Store:
    """The store at `path`, else $LAMINA_STORE, else ~/.local/share/lamina (made on first use)."""
    return Store.open(path)


def graph(store: Store) -> Graph:
    return Graph.build(store.images())


def get_image(store: Store, ref: str) -> StoredImage:
    return resolve(store.images(), ref)
