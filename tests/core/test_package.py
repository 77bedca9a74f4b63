"""The package as a library user meets it: its version, and its types shipped."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import subprocess
import sys

import lamina


def test_version_is_the_installed_one():
    assert lamina.__version__ == importlib.metadata.version("lamina")
    cli = subprocess.run(
        [sys.executable, "-m", "lamina", "--version"], capture_output=True, text=True, check=True
    )
    assert lamina.__version__ in cli.stdout


def test_the_package_says_it_is_typed():
    # PEP 561: without this marker a caller's mypy ignores lamina's annotations
    assert (importlib.resources.files("lamina") / "py.typed").is_file()
