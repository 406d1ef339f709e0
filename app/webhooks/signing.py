"""Signing and verifying deliveries, as the Standard Webhooks specification defines them.

A secret is ``whsec_`` + the base64 of 32 random bytes; the key is those bytes. A signature is
``v1,`` + the base64 of HMAC-SHA256(key, ``"{webhook-id}.{webhook-timestamp}.{body}"``). While
a rotated-out secret is still valid, a delivery carries one signature per live secret,
space-separated, and a receiver accepts the delivery if any one matches a secret it knows.

``verify`` is the helper we offer to receivers (the README shows it): it compares in constant
time and refuses timestamps more than five minutes away from now, which stops replays.

Why not ``standardwebhooks`` (the suite's reference verifier, which checks these bytes in
``tests/webhooks/test_signing.py`` and on every delivery): ``Webhook(secret).sign(...)`` makes
the same signature at more CPU per attempt, 4.8 µs against our 3.4 (1.4x; 1.35x with two
secrets, as during a rotation), measured by ``bench/webhook_libraries.py`` (10,000 signatures,
best of 9). It takes a ``datetime`` where the header carries an integer, and decodes its key
per object: the worker unseals the secrets per attempt (``Subscription.live_secrets``), so a
``Webhook`` per secret would only draw level (0.97x) behind a cache of plaintext secrets we
would have to add and bound. A library replaces ours only where it is at least as fast on its
path (issue 20), so this stays.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

__all__ = [
    "SECRET_PREFIX",
    "WebhookVerificationError",
    "new_secret",
    "sign",
    "signature_header",
    "verify",
]

SECRET_PREFIX = "whsec_"
_TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The delivery is not signed by a secret given, or its timestamp is out of tolerance."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as error:
        raise ValueError("a webhook secret is whsec_ + base64") from error


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one delivery attempt."""
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    live_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """The ``webhook-signature`` value: one signature per live secret, space-separated."""
    return " ".join(sign(s, message_id, timestamp, body) for s in live_secrets)


def verify(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = _TOLERANCE_SECONDS,
) -> None:
    """Check a received delivery; raise ``WebhookVerificationError`` unless one of its
    signatures matches one of ``secret`` (a receiver keeps both secrets during a rotation)
    and its timestamp is within ``tolerance`` seconds of ``now``.

    ``headers`` may use any case. Compare the body exactly as received: re-serialised JSON
    does not verify.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (message_id and timestamp_text and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or signature")
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too far from now")
    expected = [
        sign(s, message_id, timestamp, body).encode()
        for s in ([secret] if isinstance(secret, str) else secret)
    ]
    matched = False
    for given in signatures.split():
        for candidate in expected:
            # Every pair is compared, match or not, so the time taken reveals nothing.
            matched |= hmac.compare_digest(given.encode(), candidate)
    if not matched:
        raise WebhookVerificationError("no signature matches")
