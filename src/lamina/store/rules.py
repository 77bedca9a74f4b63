"""Docker's image removal rules (`rmi`, `image prune`), on a store transaction.

- `rmi NAME` untags NAME. If the image has other names, that is all. If it has
  none left but child images or containers depend on it, it stays as `<none>`.
- Otherwise it is deleted, and so is each untagged parent that nothing else
  needs any more, walking down the stack (Docker's "prune parents").
- `rmi ID` of an image with several names, or one a container uses, needs -f;
  one with child images cannot be deleted at all.
Output lines are Docker's: `Untagged: NAME`, `Deleted: sha256:...` for the
image and for each layer (chain ID) nothing else holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lamina import reference
from lamina.errors import ConflictError
from lamina.store.graph import Graph, resolve
from lamina.store.local import StoredImage, Transaction

ContainersUsing = Callable[[str], list[str]]


def _no_containers(image_id: str) -> list[str]:
    return []


@dataclass
class Removal:
    tx: Transaction
    graph: Graph
    containers_using: ContainersUsing = _no_containers
    lines: list[str] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)

    def live_children(self, image_id: str) -> list[str]:
        return [c for c in self.graph.children.get(image_id, []) if c not in self.deleted]

    def names_of(self, img: StoredImage) -> list[str]:
        return [n for n in img.names if any(e.name == n for e in self.tx.entries)]

    def remove(self, text: str, force: bool = False, prune: bool = True) -> list[str]:
        img = resolve(self.graph.images, text)
        ref = reference.try_parse(text)
        by_name = ref is not None and ref.familiar in img.names
        short = img.id[7:19]
        if by_name:
            assert ref is not None
            self.tx.remove_name(ref.familiar, keep_untagged=False)
            self.lines.append(f"Untagged: {ref.familiar}")
            if self.names_of(img):
                return self.lines
        else:
            if len(self.names_of(img)) > 1 and not force:
                raise ConflictError(
                    f"conflict: unable to delete {short} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
        users = self.containers_using(img.id)
        if users and not force:
            return self._conflict(img, by_name, f"image is being used by container {users[0][:12]}")
        if self.live_children(img.id):
            return self._conflict(img, by_name, "image has dependent child images", hard=True)
        for name in self.names_of(img):
            self.tx.remove_name(name, keep_untagged=False)
            self.lines.append(f"Untagged: {name}")
        self._delete(img)
        if prune:
            self._prune_parents(img)
        return self.lines

    def _conflict(self, img: StoredImage, by_name: bool, why: str, hard: bool = False) -> list[str]:
        if by_name:
            # the name is gone, the image stays as <none> for what depends on it
            self.tx.add_root(img.manifest)
            return self.lines
        must = "" if hard else " (must be forced)"
        raise ConflictError(f"conflict: unable to delete {img.id[7:19]}{must} - {why}")

    def _prune_parents(self, img: StoredImage) -> None:
        for parent_id in self.graph.ancestors(img.id):
            parent = self.graph.by_id(parent_id)
            if (
                self.names_of(parent)
                or self.live_children(parent_id)
                or self.containers_using(parent_id)
            ):
                return
            self._delete(parent)

    def _delete(self, img: StoredImage) -> None:
        self.deleted.add(img.id)
        self.tx.drop_image(img.manifest.digest)
        self.lines.append(f"Deleted: {img.id}")
        remaining = [i.image for i in self.graph.images if i.id not in self.deleted]
        kept_chains = {c for i in remaining for c in i.chain_ids}
        kept_layers = {d for i in remaining for d in i.diff_ids}
        kept_blobs = {i.manifest.digest for i in self.graph.images if i.id not in self.deleted}
        kept_blobs |= {i.id for i in remaining}
        for chain in reversed(img.image.chain_ids):
            if chain not in kept_chains:
                self.lines.append(f"Deleted: {chain}")
        for diff_id in set(img.image.diff_ids) - kept_layers:
            self.tx.delete_blob(diff_id)
        for blob in (img.manifest.digest, img.id):
            if blob not in kept_blobs:
                self.tx.delete_blob(blob)


def prune(
    tx: Transaction, graph: Graph, all_unused: bool, containers_using: ContainersUsing
) -> list[str]:
    """`image prune`: delete dangling images (with -a: every image no container uses)."""
    removal = Removal(tx, graph, containers_using)
    changed = True
    while changed:
        changed = False
        for img in graph.images:
            if (
                img.id in removal.deleted
                or removal.live_children(img.id)
                or containers_using(img.id)
            ):
                continue
            if removal.names_of(img) and not all_unused:
                continue
            for name in removal.names_of(img):
                tx.remove_name(name, keep_untagged=False)
                removal.lines.append(f"Untagged: {name}")
            removal._delete(img)
            changed = True
    return removal.lines
