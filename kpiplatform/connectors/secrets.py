"""Secrets of connections at rest: MultiFernet over ``settings.KPI_SECRET_KEYS``.

The first key encrypts, every key decrypts, so a new key is prepended to rotate and the old
one removed once ``manage.py rotate_secrets`` has re-encrypted everything with the new one.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretsUnreadable(ValueError):
    """No key of KPI_SECRET_KEYS decrypts the stored secrets."""


def _fernet() -> MultiFernet:
    # Built per call: cheap, and a test (or a settings reload) changing the keys is honoured.
    return MultiFernet([Fernet(key) for key in settings.KPI_SECRET_KEYS])


def encrypt(values: dict[str, Any]) -> str:
    """The secret values as one Fernet token (empty dict: empty string)."""
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable(
            "The stored secrets cannot be decrypted with any key of KPI_SECRET_KEYS."
        ) from None


def rotate(token: str) -> str:
    """The same secrets encrypted with the first key."""
    if not token:
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretsUnreadable(
            "The stored secrets cannot be decrypted with any key of KPI_SECRET_KEYS."
        ) from None
