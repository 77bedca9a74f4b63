"""Progress reporting: a bar on a terminal, nothing when piped or asked to be quiet.

Library code takes a Progress and calls `task(...)`; the CLI decides which kind and
holds it in a `with` block (`with c.progress() as progress: ...`).
"""

from __future__ import annotations

import sys
from typing import Protocol


class Task(Protocol):
    def advance(self, n: int) -> None: ...

    def done(self) -> None: ...


class _NullTask:
    def advance(self, n: int) -> None:
        pass

    def done(self) -> None:
        pass


class Progress:
    """The quiet kind; `Progress.for_terminal()` gives bars when stderr is a TTY.

    A context manager: leaving the `with` (also on an error) closes it, so a bar never
    outlives the command that drew it."""

    def task(self, description: str, total: int | None) -> Task:
        return _NullTask()

    def close(self) -> None:
        pass

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def null() -> Progress:
        return Progress()

    @staticmethod
    def for_terminal(quiet: bool = False) -> Progress:
        if quiet or not sys.stderr.isatty():
            return Progress()
        return RichProgress()


class _RichTask:
    def __init__(self, owner: RichProgress, task_id: object) -> None:
        self._owner, self._id = owner, task_id

    def advance(self, n: int) -> None:
        self._owner.bar.update(self._id, advance=n)  # type: ignore[arg-type]

    def done(self) -> None:
        bar, task_id = self._owner.bar, self._id
        total = bar.tasks[[t.id for t in bar.tasks].index(task_id)].total  # type: ignore[arg-type]
        # a task of unknown size (a pulsing bar) shows as full once it is over
        bar.update(task_id, total=total or 1, completed=total or 1)  # type: ignore[arg-type]
        bar.stop_task(task_id)  # type: ignore[arg-type]


class RichProgress(Progress):
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.bar.start()

    def task(self, description: str, total: int | None) -> Task:
        return _RichTask(self, self.bar.add_task(description, total=total))

    def close(self) -> None:
        self.bar.stop()
