"""Container names: Docker-style `adjective_surname`, random but readable.

`docker run` without `--name` gives a container a name like `focused_hopper`; lamina
does the same so `ps`, `rm` and `commit` can be typed without copying IDs. The words
are lamina's own lists (adjectives, and surnames of scientists and engineers).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection, Sequence

from lamina.errors import UsageError


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ADJECTIVES = _words(
    "admiring agile amazing bold brave bright busy calm careful charming cheerful clever "
    "cool crisp curious daring dazzling determined eager earnest elastic elegant epic "
    "fervent festive friendly gallant gentle gifted gracious happy hardy hopeful humble "
    "inspiring jolly keen kind laughing lively loyal lucid magical merry mighty modest "
    "nifty nimble noble optimistic patient peaceful pensive placid playful plucky polite "
    "practical proud quick quiet radiant relaxed resolute serene sharp shiny sincere "
    "smart snappy sober spirited steady stoic sunny swift tender thirsty tidy tranquil "
    "trusting upbeat valiant vibrant vigilant vivid warm wise witty youthful zealous zen"
)

_SURNAMES = _words(
    "agnesi archimedes babbage bardeen bell bohr boole borg brahe cannon carson cerf "
    "chandrasekhar curie darwin dijkstra dirac einstein euclid euler faraday fermat fermi "
    "feynman franklin galileo gauss goldberg goodall hamilton hawking heisenberg hodgkin "
    "hopper hypatia jackson johnson kalam kepler knuth kowalevski lamarr leakey liskov "
    "lovelace mayer mccarthy meitner mendel minsky morse napier newton nobel noether "
    "pasteur pascal perlman pike planck poincare ramanujan ride ritchie rosalind saha "
    "shannon shockley sinoussi snyder swartz tesla thompson torvalds turing volta wiles "
    "wilson wing wozniak wright yalow yonath"
)

# Docker's rule for names given with --name: a letter or digit, then [a-zA-Z0-9_.-]
_VALID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def check_name(name: str) -> str:
    """Return `name` (a leading `/`, as Docker shows names, is dropped) if it is valid."""
    bare = name[1:] if name.startswith("/") else name
    if not _VALID.match(bare):
        raise UsageError(
            f"invalid container name {name!r}",
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters",
        )
    return bare


def random_name(taken: Collection[str], pick: Callable[[Sequence[str]], str] | None = None) -> str:
    """A fresh `adjective_surname` not in `taken` (a digit is added after many collisions)."""
    choose = pick or secrets.choice
    for attempt in range(100):
        name = f"{choose(_ADJECTIVES)}_{choose(_SURNAMES)}"
        if attempt >= 10:
            name += str(secrets.randbelow(10))
        if name not in taken:
            return name
    return f"container_{secrets.token_hex(6)}"
