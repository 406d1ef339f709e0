"""``ceasefire worker`` as the tests run it in a process of its own: the real CLI and worker,
with ``LoopbackOnlyBackend`` under the SSRF guard so it cannot reach beyond this machine.

    python -m tests.webhooks.loopback_worker [worker options]
"""

from __future__ import annotations

import sys

from app.webhooks import sender
from tests.webhooks.receiver import LoopbackOnlyBackend

if __name__ == "__main__":
    sender.network_backend_factory = LoopbackOnlyBackend
    from app.cli.ceasefire import main

    sys.argv = ["ceasefire", "worker", *sys.argv[1:]]
    main()
