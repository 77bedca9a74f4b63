"""Run commands side by side and print a table: wall seconds and peak memory of each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so benches can reuse tests/peers.py to start the peers
    sys.path.insert(0, str(ROOT))


@dataclass
class Result:
    task: str
    tool: str
    seconds: float
    peak_mb: float
    note: str = ""
    cpu: float = 0.0  # user + system seconds of the child


def lamina_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lamina", "--quiet", *args]


def run(
    task: str,
    tool: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    stdout: Path | None = None,
    note: str = "",
) -> Result:
    """Run argv to completion; peak RSS is the child's own (ru_maxrss via wait4)."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=dict(env) if env else None, stdout=out, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdout:
        out.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed: {err.decode()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Result(task, tool, seconds, usage.ru_maxrss / 1024, note, cpu)


def table(results: Sequence[Result], title: str) -> str:
    rows = [("task", "tool", "seconds", "peak MB", "note")]
    rows += [(r.task, r.tool, f"{r.seconds:.2f}", f"{r.peak_mb:.0f}", r.note) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"## {title}", ""]
    lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def run_child(script: str, *args: str) -> dict[str, float]:
    """Run `script --child ARGS...` in a fresh interpreter (lamina from this checkout) and
    return the JSON object it prints: each measurement in a process of its own."""
    cmd = [sys.executable, script, "--child", *args]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout)
    return result
