"""Ending live responses when the process is asked to stop.

uvicorn, on SIGTERM or SIGINT, stops accepting connections and then waits for every response
in progress to finish before it runs the app's shutdown. A live stream never finishes by
itself, and a long-poll may wait a minute, so the process would hang. ``ending_on_signal``
chains a handler in front of uvicorn's own: it first tells the waiters (the notifier closes:
streams end, long-polls answer 304 at once), then lets uvicorn's handler run as before.
Clients reconnect (EventSource does so by itself, with Last-Event-ID) to a running process.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["ending_on_signal"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def ending_on_signal(end: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM first call ``end`` (on the event loop), then whatever
    handled them before. Outside the main thread (signals cannot be handled there) it does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}
    for sig in _SIGNALS:
        before = signal.getsignal(sig)
        if not callable(before):
            continue

        def handler(
            signum: int, frame: FrameType | None, before: Callable[..., Any] = before
        ) -> None:
            loop.call_soon_threadsafe(end)
            before(signum, frame)

        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for signum, restored in previous.items():
            signal.signal(signum, restored)
