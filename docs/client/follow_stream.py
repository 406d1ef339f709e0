"""The live stream read with ``httpx-sse`` over the generated client's own ``httpx`` client
(docs/client.md). The generated ``stream_events`` function would wait for the whole answer,
which never ends (the document says so: ``x-server-sent-events``); an SSE client reads each
message as it comes, and resumes after the last one it saw (``Last-Event-ID``).

    python docs/client/follow_stream.py http://127.0.0.1:8000 armenia-azerbaijan 3

prints the conflict's first 3 events (from the start of the log: ``after=0``), then stops.
"""

from __future__ import annotations

import json
import sys

import httpx
from ceasefire_client import Client
from httpx_sse import connect_sse


def follow(base_url: str, conflict: str, count: int) -> None:
    # Idle, the stream sends a heartbeat every 15 s: a read timeout above that never fires.
    with Client(base_url=base_url, timeout=httpx.Timeout(10, read=60)) as client:
        http = client.get_httpx_client()
        params = {"conflict": conflict, "after": 0}
        with connect_sse(http, "GET", "/v1/stream", params=params) as source:
            source.response.raise_for_status()
            seen = 0
            for message in source.iter_sse():
                if not message.data:  # the opening message: where the stream starts
                    continue
                event = json.loads(message.data)
                print(f"{message.id} {message.event} {event['occurred_at']}", flush=True)
                seen += 1
                if seen == count:
                    return


if __name__ == "__main__":
    follow(sys.argv[1], sys.argv[2], int(sys.argv[3]))
