"""Write the reference part of docs/library.md from lamina's own signatures and docstrings.

    python scripts/library_reference.py          # rewrite docs/library.md in place
    python scripts/library_reference.py --check  # exit 1 if it is out of date

tests/core/test_library_doc.py runs the check, so the page never drifts from the code.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import lamina

DOC = Path(__file__).resolve().parents[1] / "docs" / "library.md"
START, END = "<!-- reference:start -->", "<!-- reference:end -->"
GROUPS = [
    ("Verbs", lambda o: inspect.isfunction(o)),
    ("Results and values", lambda o: inspect.isclass(o) and not issubclass(o, Exception)),
    ("Errors", lambda o: inspect.isclass(o) and issubclass(o, Exception)),
]


def _annotation(a: object) -> str:
    return a if isinstance(a, str) else inspect.formatannotation(a)


def signature(func: object) -> str:
    """The signature with annotations as written (lamina's are strings: no quotes)."""
    sig = inspect.signature(func)  # type: ignore[arg-type]
    parts, star = [], False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        text = p.name
        if p.annotation is not p.empty:
            text += f": {_annotation(p.annotation)}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        parts.append(text)
    returns = (
        "" if sig.return_annotation is sig.empty else f" -> {_annotation(sig.return_annotation)}"
    )
    return f"({', '.join(parts)}){returns}"


def entry(name: str, obj: object) -> str:
    doc = inspect.cleandoc(obj.__doc__ or "")
    if inspect.isfunction(obj):
        head = f"lamina.{name}{signature(obj)}"
    elif isinstance(obj, type) and issubclass(obj, Exception):
        head = f"class lamina.{name}({obj.__mro__[1].__name__})  # exit code {obj.exit_code}"  # type: ignore[attr-defined]
    else:
        fields = getattr(obj, "__dataclass_fields__", {})
        head = f"class lamina.{name}" + (f"({', '.join(fields)})" if fields else "")
    return f"#### `{name}`\n\n```\n{head}\n```\n\n{doc}\n"


def reference() -> str:
    names = sorted(n for n in lamina.__all__ if not n.isupper())
    parts = []
    for title, wanted in GROUPS:
        chosen = [n for n in names if wanted(getattr(lamina, n))]
        parts.append(f"### {title}\n\n" + "\n".join(entry(n, getattr(lamina, n)) for n in chosen))
    return "\n".join(parts)


def rendered(text: str) -> str:
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{reference()}{END}{after}"


def main() -> int:
    text = DOC.read_text()
    new = rendered(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print(f"{DOC} is out of date: run python scripts/library_reference.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
