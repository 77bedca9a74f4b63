"""Choosing the reference a layer is patched against: the most similar layer the
recipient holds (and the sender can read). Pure: images and openers in, choices out.

    chooser = Chooser(recipient_stacks, sender_has, open_for_headers)
    ref, score, why = chooser.choose(image, index)

Candidates are the layers of the recipient's images (`Stack`: its tags and diff_ids,
bottom first) that the sender holds too (it must read them to encode). Each is scored
by the byte-weighted Jaccard similarity of its entries to the target's, read from tar
headers only (seeking over data): sum over shared paths of min(size) over sum over all
paths of max(size), with 512 bytes per entry for its header, so a layer that keeps the
big files scores high and one that shares only directory names scores low. The best
score wins; on a tie, a layer at the same position in an image of the same repository
(app:1's layer 3 for app:2's layer 3) goes first, then the nearer in size. A layer
whose size is beyond 8x (or below 1/8) of the target's is only scored when it sits at
that position, and at most MAX_SCORED of each kind (nearest in size first) are read per
target, so one choice costs a bounded number of header scans whatever the store holds.
Header scans are remembered for the chooser's life. A best score under MIN_SCORE means
"no useful reference": the layer travels whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lamina import reference
from lamina.image import Image, Opener
from lamina.layer import tarstream

MAX_SCORED = 16
SIZE_RATIO = 8
MIN_SCORE = 0.05
HEADER = 512


@dataclass(frozen=True)
class Stack:
    """One image the recipient holds: its tags and its layers (diff_ids, bottom first)."""

    names: tuple[str, ...]
    diff_ids: tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    reference: str | None  # diff_id, or None: no useful reference
    score: float
    why: str  # "same position in local/app:1", "most similar (0.83)", ...
    image: str = ""  # a name of a recipient's image that holds the reference


def _repositories(names: Sequence[str]) -> set[str]:
    out = set()
    for name in names:
        ref = reference.try_parse(name)
        if ref is not None:
            out.add(ref.familiar_repository)
    return out


class Chooser:
    """Chooses references for the layers of images against what a recipient holds."""

    def __init__(
        self,
        stacks: Sequence[Stack],
        sizes: Callable[[str], int | None],
        open_layer: Callable[[str], Opener],
    ) -> None:
        """`sizes(diff_id)`: the size of a layer the sender holds, else None (not usable);
        `open_layer(diff_id)`: its uncompressed tar, preferably seekable."""
        self._stacks = stacks
        self._open = open_layer
        self._entries: dict[str, dict[str, int]] = {}
        self._holder: dict[str, str] = {}  # diff_id -> a name of an image holding it
        for stack in stacks:
            for d in stack.diff_ids:
                if stack.names and d not in self._holder:
                    self._holder[d] = stack.names[0]
        held = {d for s in stacks for d in s.diff_ids}
        self._usable = {d: size for d in held if (size := sizes(d)) is not None}

    def choose(self, image: Image, index: int) -> Choice:
        target = image.layers[index]
        same_place = self._same_position(image, index)
        if len(same_place) > MAX_SCORED:  # many tags of one repository: the nearest in size
            nearest = sorted(same_place, key=lambda d: abs(self._usable[d] - target.size))
            same_place = {d: same_place[d] for d in nearest[:MAX_SCORED]}
        others = sorted(
            (d for d in self._usable if d not in same_place and d != target.diff_id),
            key=lambda d: abs(self._usable[d] - target.size),
        )
        near = [d for d in others if _near(self._usable[d], target.size)][:MAX_SCORED]
        scored = [(d, same_place.get(d)) for d in same_place] + [(d, None) for d in near]
        if not scored:
            return Choice(None, 0.0, "the recipient holds no layer the sender can read")
        mine = self._scan(target.diff_id, self._open(target.diff_id))
        best: tuple[float, int, int, str, str | None] | None = None
        for d, where in scored:
            score = similarity(mine, self._scan(d, self._open(d)))
            key = (score, where is not None, -abs(self._usable[d] - target.size), d, where)
            if best is None or key[:3] > best[:3]:
                best = key
        assert best is not None
        score, _, _, d, where = best
        if score < MIN_SCORE:
            return Choice(None, score, f"no layer the recipient holds is similar ({score:.2f})")
        why = f"same position in {where}" if where else "most similar layer"
        return Choice(d, score, f"{why} ({score:.2f} alike)", where or self._holder.get(d, ""))

    def _same_position(self, image: Image, index: int) -> dict[str, str]:
        """diff_id -> image name, of layers at `index` in images of the same repositories."""
        repos = _repositories(image.names)
        target = image.layers[index].diff_id
        out: dict[str, str] = {}
        for stack in self._stacks:
            if index >= len(stack.diff_ids) or not repos & _repositories(stack.names):
                continue
            d = stack.diff_ids[index]
            if d != target and d in self._usable:
                out.setdefault(d, stack.names[0])
        return out

    def _scan(self, diff_id: str, opener: Opener) -> dict[str, int]:
        if diff_id not in self._entries:
            self._entries[diff_id] = entries(opener)
        return self._entries[diff_id]


def entries(opener: Opener) -> dict[str, int]:
    """path -> data size + HEADER of each entry of a layer, from its tar headers."""
    with opener() as f:
        return {
            m.name.strip("/").removeprefix("./"): m.data_size + HEADER
            for m in tarstream.members(f)
        }


def _near(size: int, target: int) -> bool:
    return size * SIZE_RATIO >= target and target * SIZE_RATIO >= size


def similarity(a: dict[str, int], b: dict[str, int]) -> float:
    """Byte-weighted Jaccard similarity of two layers' entries (see module doc)."""
    shared = sum(min(size, b[path]) for path, size in a.items() if path in b)
    total = sum(a.values()) + sum(b.values()) - shared
    return shared / total if total else 0.0
