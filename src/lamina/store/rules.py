"""Docker's image removal rules (`rmi`, `image prune`), on a store transaction.

The rules of Docker 20.10's image delete, step for step:
- `rmi NAME` untags NAME. If the image keeps other names, that is all. Without -f,
  the last name of an image a container uses cannot be removed (Docker refuses to
  leave a container's image dangling). With no names left, the image is deleted,
  unless child images (or, with -f, a running container) still need it: then it
  quietly stays, as `<none>`.
- `rmi ID` deletes the image (untagging it). It conflicts, and nothing changes, when
  child images or a running container need it (cannot be forced), or, without -f,
  when it has several names or a stopped container uses it.
- A deleted image's untagged parent that nothing else needs (no names, no other
  children, no container) is deleted too, and so on down the stack.
- `image prune` deletes dangling images (untagged, no children); with -a, every
  image no container uses. Each goes through the same rules; conflicts are skipped.
Output lines are Docker's: `Untagged: NAME`, `Deleted: sha256:...` for the image and
for each layer (chain ID) nothing holds any more. A container holds its image's layers
and config even when the image itself is deleted (Docker's read-write layer does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lamina import digest, reference
from lamina.errors import ConflictError
from lamina.store.graph import Graph, resolve
from lamina.store.local import StoredImage, Transaction


@dataclass(frozen=True)
class ContainerUse:
    """What image removal needs to know about a container."""

    id: str
    image_id: str
    running: bool
    diff_ids: tuple[str, ...]  # its image's layers, which it holds


@dataclass(frozen=True)
class _Conflict:
    message: str
    hard: bool = False  # cannot be forced
    used: bool = False  # a container is the reason

    def error(self, img: StoredImage) -> ConflictError:
        how = "cannot be forced" if self.hard else "must be forced"
        return ConflictError(
            f"conflict: unable to delete {digest.short(img.id)} ({how}) - {self.message}"
        )


@dataclass
class Removal:
    tx: Transaction
    graph: Graph
    containers: Sequence[ContainerUse] = ()
    lines: list[str] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)

    def live_children(self, image_id: str) -> list[str]:
        return [c for c in self.graph.children.get(image_id, []) if c not in self.deleted]

    def names_of(self, img: StoredImage) -> list[str]:
        return [n for n in img.names if any(e.name == n for e in self.tx.entries)]

    def users(self, image_id: str) -> list[ContainerUse]:
        return [c for c in self.containers if c.image_id == image_id]

    def remove(self, text: str, force: bool = False, prune: bool = True) -> list[str]:
        """Remove one image by name or ID; returns all lines so far."""
        img = resolve(self.graph.images, text)
        ref = reference.try_parse(text)
        if ref is not None and ref.familiar in self.names_of(img):
            if not self._untag(img, ref.familiar, force):
                return self.lines  # other names remain: untagging was all
            self._delete_helper(img, force, prune, quiet=True)
            return self.lines
        if len(self.names_of(img)) == 1:
            # by ID, one name: the name goes with the image, so it does not count
            conflict = self._conflict(img, force, names_count=False)
            if conflict is not None:
                raise conflict.error(img)
            self._untag_all(img)
        self._delete_helper(img, force, prune, quiet=False)
        return self.lines

    def _untag(self, img: StoredImage, name: str, force: bool) -> bool:
        """Remove `name`; True when it was the image's last one."""
        users = self.users(img.id)
        if not force and len(self.names_of(img)) == 1 and users:
            raise ConflictError(
                f'conflict: unable to remove repository reference "{name}" (must force) - '
                f"container {digest.short(users[0].id)} is using its referenced image "
                f"{digest.short(img.id)}"
            )
        self.tx.remove_name(name, keep_untagged=True)
        self.lines.append(f"Untagged: {name}")
        return not self.names_of(img)

    def _untag_all(self, img: StoredImage) -> None:
        for name in self.names_of(img):
            self.tx.remove_name(name, keep_untagged=True)
            self.lines.append(f"Untagged: {name}")

    def _conflict(
        self, img: StoredImage, force: bool, names_count: bool = True
    ) -> _Conflict | None:
        """Docker's checks, in Docker's order; soft ones only without force."""
        if self.live_children(img.id):
            return _Conflict("image has dependent child images", hard=True)
        running = [c for c in self.users(img.id) if c.running]
        if running:
            why = f"image is being used by running container {digest.short(running[0].id)}"
            return _Conflict(why, hard=True, used=True)
        if force:
            return None
        if names_count and self.names_of(img):
            return _Conflict("image is referenced in multiple repositories")
        stopped = [c for c in self.users(img.id) if not c.running]
        if stopped:
            why = f"image is being used by stopped container {digest.short(stopped[0].id)}"
            return _Conflict(why, used=True)
        return None

    def _delete_helper(self, img: StoredImage, force: bool, prune: bool, quiet: bool) -> None:
        conflict = self._conflict(img, force)
        if conflict is not None:
            dangling = not self.names_of(img) and not self.live_children(img.id)
            if quiet and (not dangling or conflict.used):
                return  # it stays (as <none> when untagged): something still needs it
            raise conflict.error(img)
        self._untag_all(img)
        self._delete(img)
        parent = self.graph.parent.get(img.id)
        if prune and parent is not None:
            # parents go quietly, never forced, stopping at the first that is needed
            self._delete_helper(self.graph.by_id(parent), False, True, quiet=True)

    def _delete(self, img: StoredImage) -> None:
        self.deleted.add(img.id)
        self.tx.drop_image(img.manifest.digest)
        self.lines.append(f"Deleted: {img.id}")
        remaining = [i for i in self.graph.images if i.id not in self.deleted]
        held = [c.diff_ids for c in self.containers]
        kept_chains = {c for i in remaining for c in i.facts.chain_ids}
        kept_chains |= {c for d in held for c in digest.chain_ids(d)}
        kept_layers = {d for i in remaining for d in i.facts.diff_ids} | {
            d for h in held for d in h
        }
        kept_blobs = {i.manifest.digest for i in remaining} | {i.id for i in remaining}
        kept_blobs |= {c.image_id for c in self.containers}  # commit needs the config
        for chain in reversed(img.facts.chain_ids):
            if chain not in kept_chains:
                self.lines.append(f"Deleted: {chain}")
        for diff_id in set(img.facts.diff_ids) - kept_layers:
            self.tx.delete_blob(diff_id)
        for blob in (img.manifest.digest, img.id):
            if blob not in kept_blobs:
                self.tx.delete_blob(blob)


def prune(
    tx: Transaction,
    graph: Graph,
    all_unused: bool,
    containers: Sequence[ContainerUse] = (),
    keep: Callable[[StoredImage], bool] = lambda img: True,
) -> list[str]:
    """`image prune`: delete dangling images (with -a: every image no container uses);
    only those `keep` is true of (Docker's --filter)."""
    removal = Removal(tx, graph, containers)
    candidates = graph.images if all_unused else [i for i in graph.images if graph.is_dangling(i)]
    candidates = [i for i in candidates if keep(i)]
    # an untagged parent goes with its last child, never on its own (as in Docker)
    top = [i for i in candidates if i.names or not graph.children.get(i.id)]
    for img in sorted(top, key=lambda i: (i.facts.created, i.id), reverse=True):
        if img.id in removal.deleted:
            continue
        for text in removal.names_of(img) or [img.id]:
            try:
                removal.remove(text, force=False, prune=True)
            except ConflictError:
                continue  # in use: prune skips it
    return removal.lines
