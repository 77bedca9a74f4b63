"""Docker's `--filter KEY=VALUE`: which images and containers a listing or prune keeps.

Several values of one key OR (`-f reference=a -f reference=b`), different keys AND;
`label` is the exception, as in Docker: every label asked for must be there.

    images           dangling=true|false  reference=GLOB  before=IMAGE  since=IMAGE
                     label=KEY[=VALUE]
    ps               id=RE  name=RE  label=KEY[=VALUE]  status=STATE  exited=CODE
                     ancestor=IMAGE  before=CONTAINER  since=CONTAINER
    image prune,     until=TIME  label=KEY[=VALUE]  label!=KEY[=VALUE]
    container prune

`reference` globs (`*` and `?` stop at `/`, `[a-z]`) match the familiar name with or
without its tag (`local/*`, `*/app:1.?`). TIME is a duration before now (`24h`,
`1h30m`, `90s`) or a timestamp (Unix seconds or RFC 3339). An unknown key fails
with Docker's words: `Invalid filter 'KEY'`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lamina import humanize
from lamina.containers.records import Container
from lamina.errors import UsageError
from lamina.reference import Reference
from lamina.store.local import StoredImage

Filters = Mapping[str, Sequence[str]]
IMAGE_KEYS = frozenset({"dangling", "reference", "before", "since", "label"})
CONTAINER_KEYS = frozenset(
    {"id", "name", "label", "status", "exited", "ancestor", "before", "since"}
)
PRUNE_KEYS = frozenset({"until", "label", "label!"})
STATES = frozenset({"created", "restarting", "running", "removing", "paused", "exited", "dead"})
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse(items: str | Sequence[str], allowed: frozenset[str]) -> dict[str, list[str]]:
    """`KEY=VALUE` strings (or one) as {key: [values]}, keys checked against `allowed`."""
    found: dict[str, list[str]] = {}
    for item in [items] if isinstance(items, str) else items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {item!r}")
        if key not in allowed:
            raise UsageError(f"Invalid filter '{key}'")
        found.setdefault(key, []).append(value)
    for value in found.get("dangling", ()):
        if value.lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"Invalid filter 'dangling=[{value}]'")
    for value in found.get("status", ()):
        if value not in STATES:
            raise UsageError(f"Invalid filter 'status={value}'")
    return found


def glob(pattern: str) -> re.Pattern[str]:
    """Go's path.Match as a regular expression: `*` and `?` never match `/`."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 2 if pattern[i + 1 : i + 2] in ("^", "]") else i + 1)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z")


def reference_match(given: Filters) -> Callable[[Reference], bool]:
    """Does a name pass the `reference` filters (its familiar name, with or without tag)?"""
    patterns = [glob(p) for p in given.get("reference", ())]
    if not patterns:
        return lambda ref: True
    return lambda ref: any(
        p.match(ref.familiar) or p.match(ref.familiar_repository) for p in patterns
    )


def labels_match(labels: Mapping[str, str] | None, wanted: Sequence[str]) -> bool:
    """Docker's MatchKVList: every KEY (and VALUE, if given) must be among `labels`."""
    labels = labels or {}
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def image_labels(img: StoredImage) -> dict[str, str]:
    config: Any = img.image.config.doc.get("config") or {}
    return dict(config.get("Labels") or {})


def image_match(given: Filters, created_of: Callable[[str], str]) -> Callable[[StoredImage], bool]:
    """Does an image pass `dangling`, `before`, `since` and `label`? (`created_of` finds
    the created time of the image a before/since value names.)"""
    before = [_when(created_of(v)) for v in given.get("before", ())]
    since = [_when(created_of(v)) for v in given.get("since", ())]
    dangling = [v.lower() in ("true", "1") for v in given.get("dangling", ())]
    labels = given.get("label", ())

    def keep(img: StoredImage) -> bool:
        created = _when(img.facts.created)
        if dangling and not any(bool(img.names) != d for d in dangling):
            return False
        if before and not any(created < b for b in before):
            return False
        if since and not any(created > s for s in since):
            return False
        return not labels or labels_match(image_labels(img), labels)

    return keep


def container_match(
    given: Filters, find: Callable[[str], Container], descends: Callable[[str, str], bool]
) -> Callable[[Container], bool]:
    """Does a container pass the `ps` filters? (`find` resolves before/since;
    `descends(image_id, ref)`: is that image the one `ref` names, or built on it?)"""
    tests: list[Callable[[Container], bool]] = []

    def any_of(key: str, test: Callable[[Container, str], bool]) -> None:
        values = given.get(key, ())
        if values:
            tests.append(lambda c: any(test(c, v) for v in values))

    any_of("id", lambda c, v: re.search(v, c.id) is not None)
    any_of("name", lambda c, v: re.search(v, "/" + c.name) is not None)
    any_of("status", lambda c, v: c.status == v)
    any_of("exited", lambda c, v: c.status == "exited" and str(c.exit_code) == v)
    any_of("ancestor", lambda c, v: descends(c.image_id, v))
    any_of("before", lambda c, v: _when(c.created) < _when(find(v).created))
    any_of("since", lambda c, v: _when(c.created) > _when(find(v).created))
    labels = given.get("label", ())
    if labels:
        tests.append(lambda c: labels_match((c.config or {}).get("Labels"), labels))
    return lambda c: all(t(c) for t in tests)


def prune_match(
    given: Filters,
    labels_of: Callable[[Any], Mapping[str, str] | None],
    created_of: Callable[[Any], str],
) -> Callable[[Any], bool]:
    """Does an image or container pass `until`, `label` and `label!` (prune's filters)?"""
    until = [until_time(v) for v in given.get("until", ())]
    wanted, unwanted = given.get("label", ()), given.get("label!", ())

    def keep(thing: Any) -> bool:
        if until and not any(_when(created_of(thing)) < u for u in until):
            return False
        labels = labels_of(thing) or {}
        if wanted and not labels_match(labels, wanted):
            return False
        return not any(labels_match(labels, [u]) for u in unwanted)

    return keep


def until_time(text: str, now: float | None = None) -> float:
    """`until=` as a Unix time: a Go duration before now, Unix seconds, or RFC 3339."""
    now = time.time() if now is None else now
    if re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+", text):
        return now - sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    when = humanize.parse_time(text)
    if when is None:
        raise UsageError(f"invalid filter 'until={text}'", "give a duration (24h) or a time")
    return when.timestamp()


def _when(created: str) -> float:
    when = humanize.parse_time(created)
    return when.timestamp() if when is not None else 0.0
