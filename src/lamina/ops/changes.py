"""`--change` instructions of `commit` and `import`: Dockerfile lines applied to a config.

    apply_changes(config, ['CMD ["sh"]', "ENV A=1 B=2", "WORKDIR /app"]) -> new config

The instructions `docker commit --change` accepts: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. CMD and ENTRYPOINT take the JSON (exec)
form or the shell form (run by `/bin/sh -c`); as in a Dockerfile, ENTRYPOINT clears
CMD unless a CMD was given too. `config` is Docker's container config (the `config`
object of an image config); the input is never modified.
"""

from __future__ import annotations

import copy
import json
import posixpath
import shlex
from collections.abc import Callable, Sequence
from typing import Any

from lamina.errors import UsageError

Config = dict[str, Any]


def apply_changes(config: Config, changes: Sequence[str]) -> Config:
    """A copy of `config` with each instruction applied in order."""
    out = copy.deepcopy(config)
    cmd_set = False
    for line in changes:
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        handler = _HANDLERS.get(keyword)
        if handler is None:
            raise UsageError(
                f"{keyword or 'an empty line'} is not a valid change",
                f"use one of {', '.join(sorted(_HANDLERS))}",
            )
        if not rest:
            raise UsageError(f"{keyword} needs an argument")
        handler(out, rest)
        if keyword == "CMD":
            cmd_set = True
        elif keyword == "ENTRYPOINT" and not cmd_set:
            out["Cmd"] = None
    return out


def command_form(text: str) -> list[str]:
    """`["a", "b"]` (exec form) as it is, anything else as `/bin/sh -c TEXT`."""
    exec_form = _json_list(text)
    return exec_form if exec_form is not None else ["/bin/sh", "-c", text]


def _json_list(text: str) -> list[str] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _pairs(rest: str, what: str) -> list[tuple[str, str]]:
    """`K=V K2="v 2"` pairs, or the old single `K V...` form."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"{what} {rest!r}: {exc}") from None
    if words and "=" not in words[0]:
        key, _, value = rest.partition(" ")
        if not value.strip():
            raise UsageError(f"{what} {key} needs a value", f"write {what} {key}=VALUE")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise UsageError(f"{what}: {word!r} is not KEY=VALUE")
        pairs.append((key, value))
    return pairs


def _cmd(c: Config, rest: str) -> None:
    c["Cmd"] = command_form(rest)


def _entrypoint(c: Config, rest: str) -> None:
    c["Entrypoint"] = command_form(rest)


def _env(c: Config, rest: str) -> None:
    env = list(c.get("Env") or [])
    for key, value in _pairs(rest, "ENV"):
        env = [e for e in env if e.partition("=")[0] != key]
        env.append(f"{key}={value}")
    c["Env"] = env


def _label(c: Config, rest: str) -> None:
    labels = dict(c.get("Labels") or {})
    labels.update(_pairs(rest, "LABEL"))
    c["Labels"] = labels


def _expose(c: Config, rest: str) -> None:
    ports = dict(c.get("ExposedPorts") or {})
    for port in rest.split():
        number, _, proto = port.partition("/")
        if not number.isdigit():
            raise UsageError(f"EXPOSE: invalid port {port!r}", "write PORT[/tcp|udp|sctp]")
        ports[f"{number}/{proto or 'tcp'}"] = {}
    c["ExposedPorts"] = ports


def _volume(c: Config, rest: str) -> None:
    paths = _json_list(rest) or rest.split()
    volumes = dict(c.get("Volumes") or {})
    volumes.update({p: {} for p in paths})
    c["Volumes"] = volumes


def _workdir(c: Config, rest: str) -> None:
    # relative to the previous WORKDIR, as in a Dockerfile
    c["WorkingDir"] = posixpath.normpath(posixpath.join("/", c.get("WorkingDir") or "/", rest))


def _user(c: Config, rest: str) -> None:
    c["User"] = rest


def _stopsignal(c: Config, rest: str) -> None:
    c["StopSignal"] = rest


def _onbuild(c: Config, rest: str) -> None:
    c["OnBuild"] = [*(c.get("OnBuild") or []), rest]


_HANDLERS: dict[str, Callable[[Config, str], None]] = {
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "ENV": _env,
    "EXPOSE": _expose,
    "LABEL": _label,
    "ONBUILD": _onbuild,
    "STOPSIGNAL": _stopsignal,
    "USER": _user,
    "VOLUME": _volume,
    "WORKDIR": _workdir,
}
