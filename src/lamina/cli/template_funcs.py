"""What `--format` templates print and call: Go's %v of JSON-like values, and the functions.

Values print as Go's fmt prints them: lists as [a b], maps as map[k:v] (keys sorted),
None as <nil>, booleans as true/false, a missing map key (`index`) as <no value>.
The functions are Docker's (json split join title lower upper pad truncate) and Go's
(index len eq ne not and or print println); nothing else can be called.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Value = Any


def go_type(value: Value) -> str:
    names = {str: "string", int: "int", bool: "bool", float: "float64", list: "[]interface {}"}
    return names.get(type(value), "interface {}")


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


def truth(v: Value) -> bool:
    return v is not MISSING and bool(v)


def show(v: Value) -> str:
    """Go's %v of a JSON-like value."""
    if v is MISSING:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v)) if abs(v) < 1e21 else repr(v)
    if isinstance(v, list | tuple):
        return "[" + " ".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{show(v[k])}" for k in sorted(v)) + "]"
    return str(v)


class Row(dict[str, Any]):
    """A listing's row: Docker marshals one whole with json.Marshal, keys sorted; it writes <, > and
    & as \\u003c, \\u003e, \\u0026 (the json function leaves them be elsewhere)."""


def to_json(v: Value) -> str:
    row = isinstance(v, Row)  # keys sorted, as Go marshals a map
    value = None if v is MISSING else v
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=row)
    if row:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _index(v: Value, *keys: Value) -> Value:
    for k in keys:
        if isinstance(v, list | str) and not (isinstance(k, int) and 0 <= k < len(v)):
            raise ValueError(f"index out of range: {k}")
        v = v[k] if not isinstance(v, dict) or k in v else MISSING
    return v


def _pad(s: str, left: int, right: int) -> str:
    return " " * left + s + " " * right if s else s


def _and(*vs: Value) -> Value:
    return next((v for v in vs if not truth(v)), vs[-1])


def _or(*vs: Value) -> Value:
    return next((v for v in vs if truth(v)), vs[-1])


HEADER_SAFE = frozenset({"json", "split", "join", "title", "lower", "upper", "pad", "truncate"})
FUNCTIONS: dict[str, Callable[..., Value]] = {
    "json": to_json,
    "split": lambda s, sep: s.split(sep),
    "join": lambda xs, sep: sep.join(show(x) for x in xs),
    "title": lambda s: re.sub(r"\b[a-z]", lambda m: m.group(0).upper(), show(s)),
    "lower": lambda s: show(s).lower(),
    "upper": lambda s: show(s).upper(),
    "pad": _pad,
    "truncate": lambda s, n: s[:n],
    "index": _index,
    "len": len,
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "not": lambda v: not truth(v),
    "and": _and,
    "or": _or,
    "print": lambda *vs: "".join(show(v) for v in vs),
    "println": lambda *vs: " ".join(show(v) for v in vs) + "\n",
}
