"""Signing and our verification helper, against the standardwebhooks reference."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from app.webhooks.signing import (
    WebhookVerificationError,
    new_secret,
    sign,
    signature_header,
    verify,
)

BODY = b'{"specversion":"1.0","id":"x"}'


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:], validate=True)) == 32
    assert new_secret() != secret


def test_our_signature_is_the_reference_signature() -> None:
    secret = new_secret()
    now = int(time.time())
    reference = StandardWebhook(secret).sign(
        "msg_1", datetime.fromtimestamp(now, UTC), BODY.decode()
    )
    assert sign(secret, "msg_1", now, BODY) == reference


def test_verify_accepts_any_live_secret_and_refuses_others() -> None:
    old, new, stranger = new_secret(), new_secret(), new_secret()
    now = int(time.time())
    headers = {
        "Webhook-Id": "msg_1",
        "Webhook-Timestamp": str(now),
        "Webhook-Signature": signature_header([new, old], "msg_1", now, BODY),
    }
    verify(old, headers, BODY)
    verify(new, headers, BODY)
    verify([stranger, new], headers, BODY)
    StandardWebhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        verify(stranger, headers, BODY)
    with pytest.raises(WebhookVerificationError):
        verify(new, headers, BODY + b" ")
    with pytest.raises(WebhookVerificationError):
        verify(new, {**headers, "webhook-id": "msg_2"}, BODY)


def test_verify_refuses_old_or_future_timestamps_and_missing_headers() -> None:
    secret = new_secret()
    then = int(time.time()) - 600
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(then),
        "webhook-signature": sign(secret, "msg_1", then, BODY),
    }
    with pytest.raises(WebhookVerificationError, match="too far"):
        verify(secret, headers, BODY)
    verify(secret, headers, BODY, now=then + 10)
    with pytest.raises(WebhookVerificationError, match="too far"):
        verify(secret, headers, BODY, now=then - 301)
    for missing in headers:
        with pytest.raises(WebhookVerificationError, match="missing"):
            verify(secret, {k: v for k, v in headers.items() if k != missing}, BODY)
    with pytest.raises(WebhookVerificationError, match="integer"):
        verify(secret, {**headers, "webhook-timestamp": "soon"}, BODY)


def test_a_malformed_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign("not-a-secret", "msg_1", 0, BODY)
    with pytest.raises(ValueError):
        sign("whsec_!!!", "msg_1", 0, BODY)
