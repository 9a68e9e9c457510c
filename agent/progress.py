"""A progress bar for long steps that report ``(done, total)``, such as fine-tuning the headline encoders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextmanager
def progress_bar(console: Console | None, description: str) -> Iterator[Callable[[int, int], None]]:
    """Show a bar on ``console`` while the block runs and yield the ``progress(done, total)`` callback that moves it.

    Args:
        console: Where to draw (the CLI's stderr console); None draws nothing (the callback does nothing). The
            bar disappears when the block ends.
        description: What is running, e.g. "fine-tuning headline encoders".
    """
    if console is None:
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
