"""Run the real `lamina` command line (as a user would) from tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_lamina(
    store: Path, *args: str, input: bytes | None = None, check: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """`lamina --store STORE ARGS...` in this interpreter; output captured as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "lamina", "--store", str(store), *args],
        input=input,
        capture_output=True,
        check=check,
    )
