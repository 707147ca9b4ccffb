"""Secrets kept in the database (tracker API tokens, webhook secrets) encrypted with Fernet
(AES-128-CBC and HMAC-SHA256, from `cryptography`), keyed by settings.SECRETS_KEY.

The Fernet key is derived from the setting with HKDF-SHA256, so any long random string
works as the setting. Changing the setting makes the stored secrets unreadable: set them
again in the back office. `decrypt` names what it could not read instead of failing
deep inside a worker.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"supporthub.secrets v1"


class SecretUnreadable(ValueError):
    """A stored secret does not decrypt with the current SECRETS_KEY."""


def _fernet() -> Fernet:
    material = str(settings.SECRETS_KEY).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plain: str) -> str:
    """The token to store for `plain`; "" stays "" (no secret set)."""
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode("ascii")


def decrypt(token: str, *, what: str = "secret") -> str:
    """The plain text of a stored token ("" for ""); SecretUnreadable naming `what`."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            f"{what} does not decrypt with the current SECRETS_KEY; set it again"
        ) from exc
