"""One progress display for the long runs (NUTS sampling, bootstrap replicates, report building): a rich bar,
or a spinner with the elapsed time when the amount of work is unknown, on stderr.

Default (progressbar=None): shown when stderr is a terminal, or inside a Jupyter kernel that has ipywidgets
(rich draws there through it, and warns without it), and not under CI, so logs and pipes stay clean; True or
False overrides.  rich is imported only when a display is shown.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def progress_wanted(progressbar: bool | None) -> bool:
    """progressbar when given; else whether stderr is a terminal (or a Jupyter kernel with ipywidgets runs)
    outside CI."""
    if progressbar is not None:
        return bool(progressbar)
    if "ipykernel" in sys.modules:
        return importlib.util.find_spec("ipywidgets") is not None and not os.environ.get("CI")
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) and not os.environ.get("CI")


class ProgressHandle:
    """What a run moves on: `advance(steps)` and `describe(text)`; safe from several threads, and doing
    nothing when no display is shown."""

    def __init__(self, display: Any = None, task: Any = None):
        self._display, self._task = display, task
        self._lock = threading.Lock()

    def advance(self, steps: int) -> None:
        if self._display is not None:
            with self._lock:
                self._display.update(self._task, advance=steps)

    def describe(self, text: str) -> None:
        if self._display is not None:
            with self._lock:
                self._display.update(self._task, description=text)


@contextmanager
def progress_display(description: str, total: int | None = None,
                     progressbar: bool | None = None) -> Iterator[ProgressHandle]:
    """A display of `total` steps (a spinner when total is None) while the block runs, removed when it ends,
    if progress_wanted(progressbar); otherwise a handle that does nothing."""
    if not progress_wanted(progressbar):
        yield ProgressHandle()
        return
    display = _rich_display(bar=total is not None)
    with display:
        yield ProgressHandle(display, display.add_task(description, total=total))


def _rich_display(bar: bool) -> Any:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    if bar:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
    else:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    return Progress(*columns, console=Console(stderr=True), transient=True)
