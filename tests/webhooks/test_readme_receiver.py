"""The README's receiver (docs/examples/webhook_receiver.py, quoted in the README verbatim)
really receives and verifies our deliveries, and refuses forged ones."""

from __future__ import annotations

import importlib.util
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import uvicorn

from tests.e2e.conftest import free_port
from tests.factories import alleged, signed
from tests.webhooks.conftest import Api
from tests.webhooks.receiver import eventually

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "webhook_receiver.py"


def test_the_readme_quotes_the_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert EXAMPLE.read_text() in blocks


@pytest.fixture
def example_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, str]]:
    """The example app under a real uvicorn on loopback, with a secret set later."""
    monkeypatch.setenv("WEBHOOK_SECRET", "whsec_" + "A" * 43 + "=")
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(module.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield module, f"http://127.0.0.1:{port}/webhook"
    server.should_exit = True
    thread.join(10)


async def test_the_example_receiver_verifies_deliveries_and_refuses_forgeries(
    api: Api,
    example_receiver: tuple[ModuleType, str],
    conflict: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from standardwebhooks.webhooks import Webhook

    module, url = example_receiver
    hook = await api.subscribe(url, conflicts=[conflict])
    module.webhook = Webhook(hook["secret"])  # as if started with WEBHOOK_SECRET=<it>
    await api.record(signed(conflict))
    await api.record(alleged(conflict))

    [delivery] = await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
    assert [a["status_code"] for a in delivery["attempts"]] == [204]
    printed = capsys.readouterr().out
    assert f"{delivery['message_id']} violation.alleged {conflict}" in printed
    assert "'accused': 'Azerbaijan'" in printed

    async with httpx.AsyncClient() as client:
        forged = await client.post(
            url,
            content=b'{"type": "violation.alleged"}',
            headers={
                "webhook-id": "msg_forged",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl",
            },
        )
    assert forged.status_code == 400
