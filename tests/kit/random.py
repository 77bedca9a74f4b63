"""Random images from a seed: real tar content, deterministic, in memory.

`random_image(seed)` is a stack of `layers` random layers (each of up to `entries`
entries: files of random bytes, and of the `kinds` "dlh", directories, symlinks and
hardlinks to a file earlier in the same layer; with `special`, whiteouts and opaque
markers of what lower layers made), history with `empty` extra `empty_layer` entries,
and the tags given. The same arguments give the same bytes, hence the same image ID;
`images()` is the hypothesis strategy over the same knobs.

    img = random_image(7, layers=3, empty=1, tags=["kit/r:1"])
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence

from hypothesis import strategies as st

from tests.kit.image import FakeImage
from tests.kit.layers import E, dir_, file, hardlink, layer_bytes, opaque, symlink, whiteout


def random_entries(
    rng: _random.Random, count: int, lower: Sequence[str], special: bool, kinds: str = "dlh"
) -> list[E]:
    """One layer's entries; `lower`: paths earlier layers made (whiteout candidates)."""
    top = f"d{rng.randrange(4)}"
    out: list[E] = [dir_(top, mode=rng.choice([0o755, 0o700, 0o1777]))]
    files: list[str] = []
    for i in range(count):
        name = f"{top}/{rng.choice('abcdefgh')}{i}"
        move = rng.choice("fff" + kinds + ("wo" if special and lower else ""))
        if move == "f" or (move == "h" and not files):
            data = rng.randbytes(rng.choice([0, 1, 511, 512, 513, rng.randrange(4096)]))
            mode = rng.choice([0o644, 0o755, 0o600])
            out.append(file(name, data, mode=mode, uid=rng.randrange(2)))
            files.append(name)
        elif move == "d":
            out.append(dir_(name))
        elif move == "l":
            out.append(symlink(name, rng.choice([*files, "../nowhere", "/etc/passwd", "."])))
        elif move == "h":
            out.append(hardlink(name, rng.choice(files)))
        elif move == "w":
            out.append(whiteout(rng.choice(lower)))
        else:
            parent = rng.choice(lower).rpartition("/")[0] or top
            out.append(opaque(parent))
    return out


def random_layers(
    seed: int, layers: int = 3, entries: int = 8, special: bool = True, kinds: str = "dlh"
) -> list[bytes]:
    rng = _random.Random(seed)
    made: list[str] = []
    out = []
    for _ in range(layers):
        es = random_entries(rng, rng.randrange(1, entries + 1), made, special, kinds)
        made += [e.name for e in es if ".wh." not in e.name]
        out.append(layer_bytes(es))
    return out


def random_image(
    seed: int,
    layers: int = 3,
    entries: int = 8,
    empty: int = 1,
    tags: Sequence[str] = (),
    special: bool = True,
    kinds: str = "dlh",
) -> FakeImage:
    stack = random_layers(seed, layers, entries, special, kinds)
    rng = _random.Random(seed ^ 0x5EED)
    positions = sorted(rng.sample(range(layers + empty), empty))
    created_by = [f"RUN random {seed}/{i}" for i in range(layers)]
    return FakeImage(stack, list(tags), created_by, positions)


@st.composite
def images(
    draw: st.DrawFn, max_layers: int = 4, tags: Sequence[str] = ("kit/random:1",)
) -> FakeImage:
    """Hypothesis: a random image (seeded, so a failure shrinks to a seed and a shape)."""
    return random_image(
        draw(st.integers(0, 2**32 - 1)),
        layers=draw(st.integers(1, max_layers)),
        entries=draw(st.integers(1, 12)),
        empty=draw(st.integers(0, 2)),
        tags=tags,
        special=draw(st.booleans()),
        kinds=draw(st.sampled_from(["dlh", "d", "l", "h", ""])),
    )
