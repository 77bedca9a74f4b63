"""`--format`: the part of Go's text/template that Docker users write, run on plain data.

A template is literal text with actions in `{{ }}`; it is applied to one value at a
time (a listing's row, an inspect document). Nothing but the forms below is
understood, so a template can read the value and nothing else:

    {{.}}  {{.Field}}  {{.A.B}}       the value, a field of it, a nested field
    {{json .X}}  {{.X | json}}         a function call; `|` passes the left side last
    {{join .X ","}} {{split .X ","}}   Docker's functions: json split join title lower
    {{upper .X}} {{lower .X}}          upper pad truncate, and Go's index len eq ne
    {{index .X 0}} {{len .X}}          not and or print println
    {{range .X}}..{{end}}  {{if .X}}..{{else}}..{{end}}   ({{.}} is the element in range)
    "text" and 12 as arguments; {{- and -}} trim the spaces beside an action

Values print as Go's fmt does (lamina.cli.template_funcs, with the functions). A field
the value does not have is an error: for a Docker row type (`images`, `ps`, ...) "can't
evaluate field X in type T", for a JSON document (`inspect`) "map has no entry for key".
Docker's `table` prefix and `\\t`/`\\n` escapes are lamina.cli.formatting's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lamina.cli.template_funcs import FUNCTIONS, HEADER_SAFE, Value, go_type, show, truth
from lamina.errors import UsageError

TOKEN = re.compile(
    r'\s*(?:(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)|(?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)'
    r"|(?P<num>-?\d+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<pipe>\|)|(?P<bad>\S))"
)


class TemplateError(UsageError):
    """A template that does not parse, or asks for what the value does not have (exit 2)."""


@dataclass
class Operand:
    kind: str  # field, str, num, word
    text: str
    pos: int


@dataclass
class Node:
    kind: str  # text, action, range, if
    pos: int
    text: str = ""
    pipe: list[list[Operand]] = field(default_factory=list)
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


@dataclass
class Template:
    source: str
    nodes: list[Node]
    type_name: str | None = None  # Docker's row type (errors name it); None: JSON maps

    def execute(self, value: Value, *, header: bool = False) -> str:
        """The text for `value`. `header`: value maps fields to column titles, and the
        functions pass their first argument through (Docker's table headers)."""
        out: list[str] = []
        Runner(self, header).run(self.nodes, value, out)
        return "".join(out)


def parse(source: str, type_name: str | None = None) -> Template:
    """Parse `source`; with `type_name`, the value is a Docker row of that Go type and a
    missing field reads as it does for one, else it is a JSON document (inspect)."""
    nodes, _ = _parse(source, _actions(source), top=True)
    return Template(source, nodes, type_name)


def _actions(source: str) -> Iterator[tuple[str, int, str]]:
    """("text", pos, text) and ("action", pos, inside) pieces, trim markers applied."""
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            yield "text", pos, source[pos:]
            return
        text = source[pos:start]
        inner = start + 2
        if source.startswith("- ", inner):
            text, inner = text.rstrip(), inner + 1
        yield "text", pos, text
        close = source.find("}}", inner)
        if close < 0:
            _lex(source, inner, source[inner:])  # a stray "}" is the better message
            raise _error(source, start, "unclosed action")
        body, pos = source[inner:close], close + 2
        if body.endswith(" -"):
            body = body[:-1]
            rest = source[pos:]
            pos += len(rest) - len(rest.lstrip())
        yield "action", inner, body


def _parse(
    source: str, pieces: Iterator[tuple[str, int, str]], top: bool = False
) -> tuple[list[Node], str]:
    nodes: list[Node] = []
    for kind, pos, text in pieces:
        if kind == "text":
            if text:
                nodes.append(Node("text", pos, text))
            continue
        ops = _lex(source, pos, text)
        word = ops[0].text if ops and ops[0].kind == "word" else ""
        if word in ("end", "else"):
            if top:
                raise _error(source, pos, f"unexpected {{{{{word}}}}}")
            return nodes, word
        if word in ("range", "if"):
            node = Node(word, pos, pipe=_pipeline(source, ops[1:], pos))
            node.body, ended = _parse(source, pieces)
            if ended == "else":
                node.orelse, ended = _parse(source, pieces)
            if ended != "end":
                raise _error(source, pos, f"unexpected EOF in {word}")
            nodes.append(node)
            continue
        nodes.append(Node("action", pos, pipe=_pipeline(source, ops, pos)))
    return nodes, ""


def _lex(source: str, pos: int, text: str) -> list[Operand]:
    ops = []
    for m in TOKEN.finditer(text):
        kind = m.lastgroup or "bad"
        if kind == "bad":
            char = m.group(kind)
            raise _error(source, pos, f"bad character U+{ord(char):04X} '{char}'")
        ops.append(Operand(kind, m.group(kind), pos + m.start(kind)))
    return ops


def _pipeline(source: str, ops: list[Operand], pos: int) -> list[list[Operand]]:
    commands: list[list[Operand]] = [[]]
    for op in ops:
        if op.kind == "pipe":
            commands.append([])
        else:
            commands[-1].append(op)
    if any(not c for c in commands):
        raise _error(source, pos, "missing value for command")
    for c in commands:
        if c[0].kind == "word" and c[0].text not in FUNCTIONS:
            raise _error(source, c[0].pos, f'function "{c[0].text}" not defined')
    return commands


def _error(source: str, pos: int, what: str) -> TemplateError:
    line = source.count("\n", 0, pos) + 1
    return TemplateError(f"template: :{line}: {what}")


class Runner:
    def __init__(self, template: Template, header: bool = False) -> None:
        self.t = template
        self.header = header

    def run(self, nodes: list[Node], dot: Value, out: list[str]) -> None:
        for n in nodes:
            if n.kind == "text":
                out.append(n.text)
            elif n.kind == "action":
                out.append(show(self.pipeline(n.pipe, dot)))
            elif n.kind == "if":
                self.run(n.body if truth(self.pipeline(n.pipe, dot)) else n.orelse, dot, out)
            else:
                items = self.pipeline(n.pipe, dot)
                items = [items[k] for k in sorted(items)] if isinstance(items, dict) else items
                for item in items or ():
                    self.run(n.body, item, out)
                if not items:
                    self.run(n.orelse, dot, out)

    def pipeline(self, commands: list[list[Operand]], dot: Value) -> Value:
        value: Value = None
        for i, command in enumerate(commands):
            args = [self.operand(op, dot) for op in command[1:]]
            head = command[0]
            if head.kind != "word":
                if len(command) > 1 or i:
                    raise self.fail(head, f"can't give argument to non-function {head.text}")
                value = self.operand(head, dot)
                continue
            if i:
                args.append(value)
            if self.header and head.text in HEADER_SAFE:
                value = args[0] if args else ""
                continue
            try:
                value = FUNCTIONS[head.text](*args)
            except (TypeError, ValueError, IndexError, KeyError) as e:
                call = Operand("word", " ".join(op.text for op in command), head.pos)
                raise self.fail(call, f"error calling {head.text}: {e}") from None
        return value

    def operand(self, op: Operand, dot: Value) -> Value:
        if op.kind == "num":
            return int(op.text)
        if op.kind == "str":
            return json.loads(op.text) if op.text[0] == '"' else op.text[1:-1]
        if op.kind == "word":
            raise self.fail(op, f"function {op.text} needs to be called first in a command")
        value = dot
        for name in op.text.split(".")[1:] if op.text != "." else ():
            if isinstance(value, dict) and name in value:
                value = value[name]
            elif isinstance(value, dict) and (value is not dot or self.t.type_name is None):
                raise self.fail(op, f'map has no entry for key "{name}"')
            else:
                kind = (self.t.type_name if value is dot else None) or go_type(value)
                raise self.fail(op, f"can't evaluate field {name} in type {kind}")
        return value

    def fail(self, op: Operand, what: str) -> TemplateError:
        # Go places a field chain (.A.B) at its second field
        chain = op.kind == "field" and op.text.count(".") > 1
        pos = op.pos + op.text.find(".", 1) if chain else op.pos
        line = self.t.source.count("\n", 0, pos) + 1
        col = pos - (self.t.source.rfind("\n", 0, pos) + 1)
        return TemplateError(f'template: :{line}:{col}: executing "" at <{op.text}>: {what}')
