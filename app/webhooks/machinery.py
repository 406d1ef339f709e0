"""The webhook machinery a process runs: the sender and a worker, as the API's routes use them
(``Webhooks``), built for ``ceasefire serve`` from the settings (``webhooks_of``), and run while
the process runs (``running``: started, then stopped and the sender closed).

Apart from the worker (``app.webhooks.worker``) because this is composition, not the loops:
``app.composition`` builds and runs it, for ``serve`` and for ``ceasefire worker``'s one worker
alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.settings import Settings
from app.webhooks.sender import WebhookSender
from app.webhooks.worker import WebhookWorker
from events.log.store import EventStore

__all__ = ["Webhooks", "running", "webhooks_of"]


@dataclass(frozen=True, slots=True)
class Webhooks:
    """What the API's routes use: the sender (for pings) and the in-process worker, if any."""

    sender: WebhookSender
    worker: WebhookWorker | None

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()


def webhooks_of(store: EventStore, settings: Settings) -> Webhooks:
    """The webhook machinery of ``ceasefire serve``, not started: a sender and, unless
    ``CEASEFIRE_WEBHOOK_WORKER=false``, one worker in-process."""
    sender = WebhookSender(settings)
    worker = WebhookWorker(store, settings, sender) if settings.webhook_worker else None
    return Webhooks(sender, worker)


@asynccontextmanager
async def running(webhooks: Webhooks) -> AsyncIterator[Webhooks]:
    """Run ``webhooks`` (``webhooks_of``) while the context lasts."""
    if webhooks.worker is not None:
        webhooks.worker.start()
    try:
        yield webhooks
    finally:
        if webhooks.worker is not None:
            await webhooks.worker.stop()
        await webhooks.sender.close()
