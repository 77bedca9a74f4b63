"""docs/library.md is a script: its examples, run in order against a real registry
(with a password, so `login` is exercised), must work as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.peers import require

DOC = Path(__file__).parents[2] / "docs" / "library.md"


def examples() -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S))


def test_every_verb_has_an_example():
    import lamina

    code = examples()
    verbs = [n for n in lamina.__all__ if n[0].islower() and n != "images_for"]
    assert not [v for v in verbs if f"lamina.{v}(" not in code]


@pytest.mark.peer
def test_the_library_guide_runs_as_written(tmp_path, start_registry):
    require("busybox")
    reg = start_registry(htpasswd=("alice", "wonderland"))
    script = tmp_path / "guide.py"
    script.write_text(examples())
    env = {
        **os.environ,
        "REGISTRY": reg.host,
        "REGISTRY_USER": "alice",
        "REGISTRY_PASSWORD": "wonderland",
    }
    cp = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert cp.returncode == 0, cp.stderr[-3000:]
    assert "1 layer left out" in cp.stdout


def test_the_reference_is_current():
    cp = subprocess.run(
        [sys.executable, str(DOC.parents[1] / "scripts" / "library_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert cp.returncode == 0, cp.stderr
