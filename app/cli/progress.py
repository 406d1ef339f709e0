"""Progress of long commands: a bar on a terminal, plain periodic lines otherwise.

``progress_reporter(label)`` yields a ``report(done, total)`` callback. On a terminal it draws
a ``rich`` bar with events/s and the time left; when stderr is a file or a pipe (CI, logs) it
prints one line at most every few seconds, which a log keeps readably.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Report", "progress_reporter"]

#: ``report(done, total)``: events done so far, of how many.
Report = Callable[[int, int], None]


@contextmanager
def progress_reporter(
    label: str, *, stream: TextIO | None = None, every: float = 2.0
) -> Iterator[Report]:
    out = stream or sys.stderr
    if out.isatty():
        with _bar(label, out) as report:
            yield report
        return
    started = time.perf_counter()
    last = float("-inf")

    def plain(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if now - last < every and done < total:
            return
        last = now
        elapsed = max(now - started, 1e-9)
        rate = done / elapsed
        share = f" ({100 * done / total:.0f}%)" if total else ""
        left = f", {(total - done) / rate:,.0f}s left" if rate > 0 and done < total else ""
        out.write(f"{label}: {done:,}/{total:,} events{share}, {rate:,.0f} events/s{left}\n")
        out.flush()

    yield plain


@contextmanager
def _bar(label: str, out: TextIO) -> Iterator[Report]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10} events/s"),
        TimeRemainingColumn(),
        console=Console(file=out),
        transient=False,
    )
    started = time.perf_counter()
    with bar:
        task = bar.add_task(label, total=None, rate="-")

        def report(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

        yield report
