"""lamina as a library: every public name exported and documented, arguments taken the
way a Python caller writes them, and errors that speak to a caller, not to a shell."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import lamina
from lamina import errors
from lamina.ops.squash import Range
from lamina.store.local import Store
from tests.builders import docker_archive, stack
from tests.lamina_cli import run_lamina

SRC = Path(lamina.__file__).parent


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "store")
    lamina.load(s, str(docker_archive(stack(4), tmp_path / "stack.tar")))
    return s


def test_the_verbs_and_errors_a_caller_needs_are_at_the_top():
    wanted = {"push", "pull", "login", "logout", "send", "receive", "expand", "inventory"}
    wanted |= {"save_delta", "system_check", "Progress", "Inventory"}
    wanted |= {n for n, o in vars(errors).items() if isinstance(o, type) and n.endswith("Error")}
    assert wanted <= set(lamina.__all__)
    for name in lamina.__all__:
        assert getattr(lamina, name) is getattr(lamina.api, name), name


def _documented(obj: object) -> bool:
    doc = (obj.__doc__ or "").strip()
    # a dataclass without a docstring gets its signature as __doc__: that is no docstring
    return bool(doc) and not (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))


def test_every_public_name_is_documented_and_typed():
    for name in lamina.__all__:
        obj = getattr(lamina, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        assert _documented(obj), f"lamina.{name} has no docstring"
        if inspect.isfunction(obj):
            hints = typing.get_type_hints(obj)
            params = inspect.signature(obj).parameters
            assert "return" in hints, f"lamina.{name} has no return type"
            assert set(params) <= set(hints), f"lamina.{name} has untyped parameters"


def test_one_name_is_one_image_not_its_letters(store, tmp_path):
    one, listed = tmp_path / "one.tar", tmp_path / "listed.tar"
    lamina.save(store, "local/stack:2", one)  # was: "No such image: l"
    lamina.save(store, ["local/stack:2"], listed)
    assert one.read_bytes() == listed.read_bytes()
    assert (
        lamina.inspect(store, "local/stack:1")[0]["Id"]
        == lamina.get_image(store, "local/stack:1").id
    )
    assert lamina.rmi(store, "local/stack:3")[0] == "Untagged: local/stack:3"


@pytest.mark.parametrize("layers", [(1, -1), Range(1, 4), "1..-1"], ids=["tuple", "Range", "text"])
def test_squash_takes_a_layer_range_as_python_writes_it(store, layers):
    done = lamina.squash(store, "local/stack:3", layers=layers, tag="local/flat:1")
    assert done.squashed == Range(1, 4) and (done.layers_before, done.layers_after) == (4, 2)
    assert lamina.diff(store, "local/stack:3", "local/flat:1") == []


def test_a_bad_layer_range_is_a_usage_error(store):
    with pytest.raises(lamina.UsageError, match="outside the image's 4 layers"):
        lamina.squash(store, "local/stack:3", layers=(2, 9))
    with pytest.raises(lamina.UsageError, match="bad layer range"):
        lamina.squash(store, "local/stack:3", layers=(1, 2, 3))  # type: ignore[arg-type]


def test_library_errors_give_no_command_line_advice(store):
    with pytest.raises(lamina.NotFoundError) as caught:
        lamina.get_image(store, "local/nope:1")
    assert str(caught.value) == "No such image: local/nope:1"
    assert caught.value.command == "see `lamina images -a`"


def test_the_cli_still_gives_its_advice(store):
    cp = run_lamina(store.root, "inspect", "local/nope:1", check=False)
    assert cp.returncode == 3
    assert cp.stderr.decode().strip() == (
        "lamina: error: No such image: local/nope:1: see `lamina images -a`"
    )


# A hint (what any caller can do) must not send a library caller to the command line:
# no `lamina VERB` (but `lamina receive`, which is what a send command must run) and no
# --option. The CLI's advice goes in `command=`.
_CLI_ADVICE = re.compile(r"`lamina (?!receive`)|(?<![\w-])--[a-z]")
_ERRORS = {n for n, o in vars(errors).items() if isinstance(o, type) and n.endswith("Error")}
_ERRORS |= {"PeerClosed", "SenderAborted"}


def _error_texts(tree: ast.AST) -> typing.Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in _ERRORS:
            continue
        said = [*node.args, *(k.value for k in node.keywords if k.arg != "command")]
        for arg in said:
            for part in ast.walk(arg):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield node.lineno, part.value


def test_no_library_error_text_carries_command_line_advice():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for line, text in _error_texts(ast.parse(path.read_text())):
            if _CLI_ADVICE.search(text):
                found.append(f"{path.relative_to(SRC)}:{line}: {text!r}")
    assert not found, "\n".join(found)


def test_the_advice_scan_can_fail():
    bad = ast.parse('raise NotFoundError("x", "see `lamina images -a`")')
    ok = ast.parse('raise NotFoundError("x", command="see `lamina images -a`")')
    assert any(_CLI_ADVICE.search(t) for _, t in _error_texts(bad))
    assert not any(_CLI_ADVICE.search(t) for _, t in _error_texts(ok))


USER_SCRIPT = """
from pathlib import Path

import lamina

store = lamina.open_store(Path("/tmp/store"))
loaded: list[lamina.Loaded] = lamina.load(store, "app.tar")
n: int = lamina.save(store, "local/app:1", "out.tar")
rows = lamina.images(store, all=True)
first: str = rows[0].repository
done: lamina.Reshaped = lamina.squash(store, "local/app:1", layers=(1, -1))
try:
    lamina.get_image(store, "nope")
except lamina.NotFoundError as exc:
    code: int = exc.exit_code
"""


MISTAKES = {  # a line a user might get wrong -> the error mypy must report on it
    'lamina.save(store, 42, "out.tar")': "arg-type",
    "x: str = lamina.squash(store, 'a').id + 1": "operator",
    "lamina.images(store, every=True)": "call-arg",
}


def _mypy(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(script.parent / ".mypy"),
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=script.parent,  # not the repo: the package comes from site-packages
    )


def test_a_users_script_type_checks_against_the_installed_package(tmp_path):
    clean = tmp_path / "clean.py"
    clean.write_text(USER_SCRIPT)
    cp = _mypy(clean)
    assert cp.returncode == 0, cp.stdout
    wrong = tmp_path / "wrong.py"
    wrong.write_text(USER_SCRIPT + "".join(f"{line}\n" for line in MISTAKES))
    cp = _mypy(wrong)
    first = USER_SCRIPT.count("\n") + 1
    reported = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"wrong.py:(\d+): error: .*\[([\w-]+)\]$", cp.stdout, re.M)
    }
    assert reported == {first + i: code for i, code in enumerate(MISTAKES.values())}, cp.stdout
