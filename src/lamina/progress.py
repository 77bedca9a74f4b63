"""Progress reporting: a bar on a terminal, nothing when piped or asked to be quiet.

Library code takes a Progress and calls `task(...)`; the CLI decides which kind and
holds it in a `with` block (`with c.progress() as progress: ...`). A task of known
size shows a bar, bytes done of the total, speed and time left; one of unknown size
(total None) shows a spinner, the bytes counted so far (if any) and the time spent -
never "0/? bytes". `Counted` advances a task as a stream is read or written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol


class Task(Protocol):
    def advance(self, n: int) -> None: ...

    def done(self) -> None: ...


class _NullTask:
    def advance(self, n: int) -> None:
        pass

    def done(self) -> None:
        pass


class Counted:
    """`stream`, advancing `task` by every byte read from it or written to it."""

    def __init__(self, stream: BinaryIO, task: Task) -> None:
        self._stream, self._task = stream, task

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._task.advance(len(data))
        return data

    def write(self, data: bytes) -> int:
        written = self._stream.write(data)
        self._task.advance(len(data))
        return written

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stream.close()


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
        task = bar.tasks[[t.id for t in bar.tasks].index(task_id)]  # type: ignore[arg-type]
        if task.total is None:  # finished at what it counted; still shown as of unknown size
            done = int(task.completed)
            bar.update(task_id, total=done, completed=done, unsized=True)  # type: ignore[arg-type]
        else:
            bar.update(task_id, completed=task.total)  # type: ignore[arg-type]
        bar.stop_task(task_id)  # type: ignore[arg-type]


def _columns() -> tuple[Any, ...]:
    """Rich's columns, each switched on the task's total: bar, bytes, speed and time left
    when it is known; a spinner, the bytes counted (if any) and the time spent if not."""
    from rich import filesize
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.text import Text

    class Either(ProgressColumn):
        def __init__(self, sized: ProgressColumn, unsized: Callable[[Any], Any]) -> None:
            super().__init__()
            self.sized, self.unsized = sized, unsized

        def render(self, task: Any) -> Any:
            sized = task.total is not None and not task.fields.get("unsized")
            return self.sized.render(task) if sized else self.unsized(task)

    def counted(task: Any) -> Any:
        return Text(filesize.decimal(int(task.completed)) if task.completed else "")

    def nothing(task: Any) -> Any:
        return Text("")

    return (
        SpinnerColumn(finished_text="✓"),
        TextColumn("{task.description}"),
        Either(BarColumn(), nothing),
        Either(DownloadColumn(), counted),
        Either(TransferSpeedColumn(), nothing),
        Either(TimeRemainingColumn(), TimeElapsedColumn().render),
    )


class RichProgress(Progress):
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress as Bar

        self.bar = Bar(*_columns(), console=Console(stderr=True), transient=False)
        self.bar.start()

    def task(self, description: str, total: int | None) -> Task:
        return _RichTask(self, self.bar.add_task(description, total=total))

    def close(self) -> None:
        self.bar.stop()
