"""API keys: creation, hashing at rest, and the FastAPI dependency that checks them.

A key is ``cak_`` followed by 32 random bytes (``secrets.token_urlsafe``), so it has 256 bits of entropy.
Only its SHA-256 is stored. A slow password hash (argon2, bcrypt) protects *low-entropy* secrets against
guessing after a database leak; a 256-bit random key cannot be guessed from its hash with any amount of
work, so a fast hash loses nothing and lets every request find its key by an indexed lookup of the hash
(no per-request key derivation, no scan over all keys). The key is printed once at creation.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serve.store import KeyRecord, Store

KEY_PREFIX = "cak_"
_bearer = HTTPBearer(auto_error=False, description="An API key from `campaign keys create`.")
_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, detail="missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
)


def generate_key() -> str:
    """Return a new random API key (256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Return the hex SHA-256 of ``key`` (what the database stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store, name: str) -> tuple[KeyRecord, str]:
    """Create and store a key named ``name``.

    Returns:
        The stored record and the key itself (shown to the user once; it cannot be recovered).

    Raises:
        ValueError: when ``name`` is empty or longer than 120 characters.
    """
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise ValueError("the key name must have 1 to 120 characters")
    key = generate_key()
    return store.add_key(name, hash_key(key), key[: len(KEY_PREFIX) + 6]), key


def find_key(store: Store, key: str) -> KeyRecord | None:
    """Return the active key record matching ``key``, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    return store.key_by_hash(hash_key(key))


def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> KeyRecord:
    """FastAPI dependency: the caller's key from ``Authorization: Bearer <key>``, else 401.

    Missing, malformed, unknown and revoked keys all get the same answer, so the reply reveals nothing.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _UNAUTHORIZED
    record = find_key(request.app.state.store, credentials.credentials)
    if record is None:
        raise _UNAUTHORIZED
    return record
