"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``.

Secrets are ``whsec_`` + base64 of 32 random bytes. During a rotation's grace period a message
carries one signature per live secret, space-separated; a receiver accepts any that verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per live secret."""
    if not secrets_:
        raise ValueError("a webhook needs at least one live secret to be signed")
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_)
