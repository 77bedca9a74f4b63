"""JSON documents as values: parse one object, write canonical bytes, freeze and thaw.

`freeze` makes the read-only form values hand out (objects become mapping proxies,
arrays tuples); `thaw` makes a plain mutable copy again. `canonical_json` writes
either form to the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from lamina.errors import InvalidInputError


def load_json(raw: bytes | str, what: str) -> Any:
    """Parse JSON, turning any failure (nesting too deep included) into one line."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{what} is not valid JSON ({exc})", "the file is corrupt"
        ) from None
    except RecursionError:
        raise InvalidInputError(
            f"{what} is not valid JSON (nested too deeply)", "the file is corrupt or hostile"
        ) from None


def parse_json(raw: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object, turning any failure into a one-line InvalidInputError."""
    value = load_json(raw, what)
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} is not a JSON object", "the file is corrupt")
    return value


def canonical_json(value: Any) -> bytes:
    """The bytes lamina writes for documents it creates: stable key order, compact."""
    text = json.dumps(
        value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=_plain
    )
    return text.encode()


def _plain(value: Any) -> Any:
    """json.dumps' fallback: frozen JSON (see `freeze`) serialises as what it was."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def freeze(value: Any) -> Any:
    """A read-only deep copy of parsed JSON: objects become mapping proxies, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy (dicts and lists) of JSON, frozen or not."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value
