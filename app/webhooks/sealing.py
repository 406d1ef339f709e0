"""Webhook signing secrets at rest: sealed with Fernet when ``CEASEFIRE_SECRET_KEY`` is set.

Whoever reads a subscription's secret can sign deliveries its receiver will trust, so with
``CEASEFIRE_SECRET_KEY`` set the database holds only Fernet tokens (``cryptography``'s
authenticated AES-128-CBC with HMAC-SHA256), and a copy or backup of the database gives the
secrets away only with the key. Without it the secrets are stored in clear (the README says
so): a stored secret that starts with ``whsec_`` is clear, anything else is a token.

Key rotation: ``CEASEFIRE_SECRET_KEY`` is a comma-separated list of Fernet keys
(``MultiFernet``): the first seals, every one opens. To rotate, put a new key first and keep
the old ones after it; ``ceasefire webhooks reseal`` then seals every stored secret with the
first key (clear ones too), after which the old keys can be dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from app.settings import Settings

__all__ = ["CLEAR_PREFIX", "SecretBox", "SecretKeyError", "new_key", "secret_box"]

#: Every secret this service makes starts so (``signing.new_secret``); a token never does.
CLEAR_PREFIX = "whsec_"


class SecretKeyError(Exception):
    """A stored secret is sealed, and no key of ``CEASEFIRE_SECRET_KEY`` opens it."""


def new_key() -> str:
    """A fresh key for ``CEASEFIRE_SECRET_KEY``."""
    return Fernet.generate_key().decode("ascii")


@dataclass(frozen=True, slots=True)
class SecretBox:
    """Seals secrets with the first key, opens them with any; without keys, the identity."""

    _fernet: MultiFernet | None

    @classmethod
    def from_keys(cls, keys: Sequence[str]) -> SecretBox:
        """``ValueError`` for a key that is not a Fernet key (32 url-safe base64 bytes)."""
        if not keys:
            return cls(None)
        return cls(MultiFernet([Fernet(key.encode("ascii")) for key in keys]))

    @property
    def sealing(self) -> bool:
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return secret
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        if stored.startswith(CLEAR_PREFIX):
            return stored
        if self._fernet is None:
            raise SecretKeyError(
                "webhook secrets are sealed in the database: set CEASEFIRE_SECRET_KEY"
            )
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                "no key of CEASEFIRE_SECRET_KEY opens a stored webhook secret"
            ) from None

    def reseal(self, stored: str) -> str:
        """``stored`` sealed with the first key; a clear secret is sealed. Unchanged without
        keys. ``SecretKeyError`` when no key opens it."""
        if self._fernet is None:
            return stored
        if stored.startswith(CLEAR_PREFIX):
            return self.seal(stored)
        try:
            return self._fernet.rotate(stored.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretKeyError(
                "no key of CEASEFIRE_SECRET_KEY opens a stored webhook secret"
            ) from None


def secret_box(settings: Settings) -> SecretBox:
    """What seals and opens webhook secrets at rest, from ``CEASEFIRE_SECRET_KEY``. Built here,
    not by the settings: they hold the keys only, so ``app.settings`` imports nothing above it."""
    return SecretBox.from_keys([k.get_secret_value() for k in settings.secret_key])
