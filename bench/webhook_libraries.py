"""Our Standard Webhooks signing and CloudEvents bodies against the libraries that do the same.

Issue 20 asks that ``standardwebhooks`` and the ``cloudevents`` SDK replace our copies where
they are at least as fast on their path. This times both sides of each, in one process, on the
same inputs: 10,000 signatures (one live secret, two as during a rotation, and one with the
library's ``Webhook`` built once instead of per attempt) and 10,000
delivery bodies of a recorded allegation. Best of ``--repeat`` alternating runs, in CPU
microseconds per call.

    .venv/bin/python bench/webhook_libraries.py
    .venv/bin/python bench/webhook_libraries.py --number 20000 --repeat 9
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks.webhooks import Webhook

from app.webhooks.cloudevents import SOURCE, event_body
from app.webhooks.signing import new_secret, signature_header
from bench.harness import alleged
from events.model.envelope import Recorded, recorded_adapter, to_recorded

_FORMAT = JSONFormat()


def library_signature_header(
    live_secrets: list[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """``signature_header`` with ``standardwebhooks``: one ``Webhook`` per secret, as the
    sender has the secrets (decrypted per attempt, not kept)."""
    when = datetime.fromtimestamp(timestamp, UTC)
    return " ".join(Webhook(s).sign(message_id, when, body) for s in live_secrets)


def library_event_body(event: Recorded) -> bytes:
    """``event_body`` with the CloudEvents SDK (structured JSON mode)."""
    attributes: dict[str, Any] = {
        "id": str(event.id),
        "source": SOURCE,
        "type": event.type,
        "subject": event.conflict,
        "time": event.occurred_at,
        "datacontenttype": "application/json",
    }
    data = recorded_adapter.dump_python(event, mode="json")
    return _FORMAT.write(CloudEvent(attributes, data))


def compare(
    ours: Callable[[], object], library: Callable[[], object], number: int, repeat: int
) -> tuple[float, float]:
    """Microseconds per call of each, best of ``repeat`` runs of ``number`` calls. The runs
    alternate, and each is timed in this process's CPU time: on a shared machine, time spent
    waiting for a core is then counted against neither side."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for call, into in ((ours, times[0]), (library, times[1])):
            into.append(timeit.timeit(call, number=number, timer=time.process_time))
    return min(times[0]) / number * 1e6, min(times[1]) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    recorded = to_recorded(
        alleged("bench-0", 1),
        version=2,
        position=42,
        recorded_at=datetime(2022, 9, 24, 12, 0, tzinfo=UTC),
        schema_version=1,
    )
    body = event_body(recorded)
    message_id = "42-1f0c3e4a-6b1d-4c55-9a35-0d1e1c3b9d2e"
    timestamp = int(time.time())
    one, two = [new_secret()], [new_secret(), new_secret()]
    kept = Webhook(one[0])  # the cheapest use of the library: its key decoded once
    for secrets in (one, two):  # the same bytes, or the comparison means nothing
        assert signature_header(secrets, message_id, timestamp, body) == (
            library_signature_header(secrets, message_id, timestamp, body)
        )

    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            f"sign, 1 secret ({len(body)} B body)",
            lambda: signature_header(one, message_id, timestamp, body),
            lambda: library_signature_header(one, message_id, timestamp, body),
        ),
        (
            "sign, 2 secrets (a rotation)",
            lambda: signature_header(two, message_id, timestamp, body),
            lambda: library_signature_header(two, message_id, timestamp, body),
        ),
        (
            "sign, 1 secret, a Webhook kept",
            lambda: signature_header(one, message_id, timestamp, body),
            lambda: kept.sign(message_id, datetime.fromtimestamp(timestamp, UTC), body),
        ),
        (
            "CloudEvents body of an allegation",
            lambda: event_body(recorded),
            lambda: library_event_body(recorded),
        ),
    ]
    print(f"{args.number:,} calls, best of {args.repeat}; CPU microseconds per call")
    print(f"{'path':<36} {'ours':>8} {'library':>8} {'library/ours':>13}")
    for name, ours, library in rows:
        ours_us, library_us = compare(ours, library, args.number, args.repeat)
        print(f"{name:<36} {ours_us:>8.2f} {library_us:>8.2f} {library_us / ours_us:>13.2f}")


if __name__ == "__main__":
    main()
