"""Entry names as lamina uses them: relative, slash-separated, no `.` or empty parts.

Tar names come as `./usr/bin/`, `/etc/passwd`, `a//b`; all mean a path under the root.
A name whose `..` parts climb above the root is refused: a layer must never write, link
or delete outside the directory it is applied to. The root itself is "".
"""

from __future__ import annotations

from lamina.errors import UnsafePathError

ROOT = ""


def _unsafe(name: str, what: str) -> UnsafePathError:
    return UnsafePathError(f"{what} {name!r} points outside the root", "refusing to use this layer")


def split(name: str, what: str = "entry") -> list[str]:
    """The parts of a tar name, normalised; raises UnsafePathError if it escapes the root."""
    parts = name.split("/")
    if "" not in parts and "." not in parts and ".." not in parts:
        return parts  # the common case: already clean
    out: list[str] = []
    for part in parts:
        if part == "..":
            if not out:
                raise _unsafe(name, what)
            out.pop()
        elif part and part != ".":
            out.append(part)
    return out


def normalise(name: str, what: str = "entry") -> str:
    """A tar name as a clean relative path ("" for the root itself)."""
    return "/".join(split(name, what))


def parent(path: str) -> str:
    return path.rpartition("/")[0]


def basename(path: str) -> str:
    return path.rpartition("/")[2]


def join(parent_path: str, name: str) -> str:
    return f"{parent_path}/{name}" if parent_path else name
