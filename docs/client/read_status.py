"""A conflict's status read with the client ``openapi-python-client`` generates from the
service's OpenAPI document (docs/client.md): read it once, ask again with its ETag (304: nothing
changed, nothing sent), then long-poll (``Prefer: wait=N``) until the next event changes it.

    python docs/client/read_status.py http://127.0.0.1:8000 armenia-azerbaijan

The generated package ``ceasefire_client`` must be importable (on ``PYTHONPATH``).
"""

from __future__ import annotations

import sys
from http import HTTPStatus

import httpx
from ceasefire_client import Client
from ceasefire_client.api.conflicts import get_status
from ceasefire_client.models import StatusView


def follow(base_url: str, conflict: str, *, wait: int = 30) -> None:
    # A long-poll holds the request up to `wait` seconds: the read timeout must outlast it.
    with Client(base_url=base_url, timeout=httpx.Timeout(10, read=wait + 10)) as client:
        first = get_status.sync_detailed(conflict, client=client)
        if not isinstance(first.parsed, StatusView):
            raise SystemExit(f"{first.status_code}: {first.content.decode()}")
        print(f"{conflict}: {first.parsed.state.value}, ETag {first.headers['ETag']}", flush=True)

        tag = first.headers["ETag"]
        again = get_status.sync_detailed(conflict, client=client, if_none_match=tag)
        print(f"with its ETag: {again.status_code.value}", flush=True)  # 304: still current

        while True:  # each round waits up to `wait` s for a change, then asks again
            print("waiting for a change", flush=True)
            polled = get_status.sync_detailed(
                conflict, client=client, if_none_match=tag, prefer=f"wait={wait}"
            )
            if polled.status_code == HTTPStatus.NOT_MODIFIED:
                continue
            if not isinstance(polled.parsed, StatusView):
                raise SystemExit(f"{polled.status_code}: {polled.content.decode()}")
            print(f"changed: {polled.parsed.state.value}, ETag {polled.headers['ETag']}")
            return


if __name__ == "__main__":
    follow(sys.argv[1], sys.argv[2])
