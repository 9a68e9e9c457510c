"""API keys: creation, roles, expiry, hashing at rest, the per-key rate limit, and the FastAPI dependencies.

A key is ``cak_`` followed by 32 random bytes (``secrets.token_urlsafe``), so it has 256 bits of entropy.
Only its SHA-256 is stored. A slow password hash (argon2, bcrypt) protects *low-entropy* secrets against
guessing after a database leak; a 256-bit random key cannot be guessed from its hash with any amount of
work, so a fast hash loses nothing and lets every request find its key by an indexed lookup of the hash
(no per-request key derivation, no scan over all keys). The key is printed once at creation.

Roles are *ordered* (:data:`ROLES`): ``read`` < ``plan`` < ``approve`` < ``admin``, and a key has every right of
the roles below its own. ``read``: the GET routes; ``plan``: create and cancel plans, chat; ``approve``: approve
and reject plans, import outcomes; ``admin``: manage keys (and privacy operations). A missing, unknown, revoked or
expired key gets the same 401; a valid key below the route's role gets 403 naming the role needed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from serve.database import now
from serve.store import KeyRecord, Store

Role = Literal["read", "plan", "approve", "admin"]
ROLES: tuple[Role, ...] = ("read", "plan", "approve", "admin")
"""The roles, lowest first; each includes the rights of those before it."""
KEY_PREFIX = "cak_"
KEY_USE_EVERY_S = 60
"""A key's use is recorded (``last_used_at`` and a ``key.used`` audit event) at most once per this many seconds."""
log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="An API key from `campaign keys create`.")
_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, detail="missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
)
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def generate_key() -> str:
    """Return a new random API key (256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Return the hex SHA-256 of ``key`` (what the database stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def role_allows(role: str, needed: Role) -> bool:
    """Whether a key with ``role`` may use a route that needs ``needed`` (roles are ordered; unknown: no)."""
    return role in ROLES and ROLES.index(cast(Role, role)) >= ROLES.index(needed)


def parse_expiry(text: str, at: datetime | None = None) -> datetime:
    """Turn ``30d``, ``12h``, ``90m``, ``2w`` (from ``at``, default now) or an ISO date/time into a UTC time.

    A date alone means its start (00:00 UTC); a time without a zone is UTC.

    Raises:
        ValueError: anything else, or a time not in the future.
    """
    at = at or now()
    if (match := _DURATION.match(text)) is not None:
        amount, unit = int(match.group(1)), match.group(2)
        if amount == 0:
            raise ValueError("an expiry must be in the future, not 0" + unit)
        return at + timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"an expiry is a duration such as 30d, 12h, 90m, 2w or an ISO date such as "
                         f"{(at + timedelta(days=30)).date().isoformat()}, not {text!r}") from None
    expires = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if expires <= at:
        raise ValueError(f"the expiry {expires.isoformat()} is not in the future")
    return expires


def create_key(store: Store, name: str, role: str = "admin", expires_at: datetime | None = None,
               actor: str = "cli") -> tuple[KeyRecord, str]:
    """Create and store a key named ``name`` with ``role`` (audited as ``key.created`` by ``actor``).

    Args:
        store: The API database.
        name: Who or what uses it.
        role: One of :data:`ROLES`; default ``admin`` (every right, as keys had before roles).
        expires_at: When it stops working; None: never.
        actor: Who creates it, for the audit trail (``cli`` or ``key:NAME``).

    Returns:
        The stored record and the key itself (shown to the user once; it cannot be recovered).

    Raises:
        ValueError: when ``name`` is empty or longer than 120 characters, or ``role`` is not a role.
    """
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise ValueError("the key name must have 1 to 120 characters")
    if role not in ROLES:
        raise ValueError(f"the role is one of {', '.join(ROLES)}, not {role!r}")
    key = generate_key()
    return store.add_key(name, hash_key(key), key[: len(KEY_PREFIX) + 6], role, expires_at, actor), key


def find_key(store: Store, key: str, at: datetime | None = None) -> KeyRecord | None:
    """Return the key record matching ``key`` if it is active at ``at`` (not revoked nor expired), or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    return store.key_by_hash(hash_key(key), at)


class RateLimiter:
    """Per-key token buckets: each key may make ``per_minute`` requests a minute, in bursts up to that many.

    Written here (no rate-limit library is installed): a bucket holds up to ``per_minute`` tokens, refills at
    ``per_minute / 60`` a second, and each request takes one. In-process, so each server limits on its own.

    Args:
        per_minute: Requests a key may make per minute; 0 turns the limit off.
        clock: Seconds on a monotonic clock (tests inject one).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, key_id: str) -> float:
        """Take a request of ``key_id``; return 0 when allowed, else the seconds until one is allowed."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        with self._lock:
            at = self.clock()
            tokens, last = self._buckets.get(key_id, (float(self.per_minute), at))
            tokens = min(float(self.per_minute), tokens + (at - last) * rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, at)
                return 0.0
            self._buckets[key_id] = (tokens, at)
            return (1.0 - tokens) / rate


class KeyUse:
    """Records each key's first request of every :data:`KEY_USE_EVERY_S` seconds (bounded audit of key use)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.clock = store, clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, key: KeyRecord, route: str) -> bool:
        """Note a request; record it in the store when it is the key's first in the window. Returns whether."""
        at = self.clock()
        with self._lock:
            last = self._last.get(key.id)
            if last is not None and at - last < KEY_USE_EVERY_S:
                return False
            self._last[key.id] = at
        try:
            self.store.record_key_use(key.id, key.name, route)
        except SQLAlchemyError as exc:  # a read-only or full database still serves reads; the next request retries
            log.warning("could not record the use of key %s: %s", key.id, exc)
            with self._lock:
                self._last.pop(key.id, None)
            return False
        return True


def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> KeyRecord:
    """FastAPI dependency: the caller's key from ``Authorization: Bearer <key>``, else 401; over its rate, 429.

    Missing, malformed, unknown, revoked and expired keys all get the same answer, so the reply reveals nothing.
    A key over its rate limit gets 429 with ``Retry-After`` (whole seconds). A key's use is recorded at most once
    a minute (:class:`KeyUse`).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _UNAUTHORIZED
    state = request.app.state
    record = find_key(state.store, credentials.credentials)
    if record is None:
        raise _UNAUTHORIZED
    limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
    if limiter is not None and (wait := limiter.acquire(record.id)) > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"key {record.name!r} made more than {limiter.per_minute} requests in a minute; "
                            f"retry in {math.ceil(wait)} s", headers={"Retry-After": str(math.ceil(wait))})
    key_use: KeyUse | None = getattr(state, "key_use", None)
    if key_use is not None:
        key_use.seen(record, f"{request.method} {request.url.path}")
    return record


def require_role(role: Role) -> Callable[[KeyRecord], KeyRecord]:
    """Return the FastAPI dependency that lets keys of ``role`` or a higher one through, else 403.

    It builds on :func:`require_key` (cached per request, so a request is counted and checked once).
    """
    def dependency(key: Annotated[KeyRecord, Depends(require_key)]) -> KeyRecord:
        if not role_allows(key.role, role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this route needs a key with the {role!r} role or higher; key {key.name!r} has "
                                f"the {key.role!r} role")
        return key

    dependency.__name__ = f"require_{role}"
    return dependency


ReadKey = Annotated[KeyRecord, Depends(require_role("read"))]
"""A route parameter: any valid key (every role reads)."""
PlanKey = Annotated[KeyRecord, Depends(require_role("plan"))]
"""A route parameter: a key that may create and cancel plans and chat."""
ApproveKey = Annotated[KeyRecord, Depends(require_role("approve"))]
"""A route parameter: a key that may approve and reject plans and import outcomes."""
AdminKey = Annotated[KeyRecord, Depends(require_role("admin"))]
"""A route parameter: a key that may manage keys and run privacy operations."""
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing, unknown, revoked or expired API key"},
    403: {"description": "The key's role is below the route's"},
    429: {"description": "The key made too many requests this minute (see Retry-After)"},
}
"""The answers every authenticated route may give, for the OpenAPI schema."""


class KeyIn(BaseModel):
    """A key to create over the API."""

    name: str = Field(min_length=1, max_length=120, description="Who or what uses the key.")
    role: Role = Field("read", description="read, plan, approve or admin (each includes those before it).")
    expires_in: str | None = Field(None, max_length=40, description="A duration (30d, 12h, 90m, 2w) or an ISO "
                                                                    "date/time; none: never expires.")


class KeyOut(BaseModel):
    """A key as listed (never its secret)."""

    id: str
    name: str
    prefix: str = Field(description="Its first characters, to recognise it.")
    role: Role | str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Recorded at most once a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: KeyRecord) -> KeyOut:
        """The listing of a stored key."""
        return cls(id=key.id, name=key.name, prefix=key.prefix, role=key.role, created_at=key.created_at,
                   expires_at=key.expires_at, last_used_at=key.last_used_at, revoked_at=key.revoked_at)


class NewKeyOut(KeyOut):
    """A created key, with its secret (shown this once)."""

    key: str = Field(description="The key itself: only its hash is stored, copy it now.")


def keys_router() -> APIRouter:
    """The ``/v1/keys`` routes (admin keys only): create, list and revoke keys; each change is audited."""
    router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=AUTH_RESPONSES)

    @router.post("", status_code=201, response_model=NewKeyOut, summary="Create an API key (admin)",
                 responses={422: {"description": "Invalid name, role or expiry"}})
    def create(body: KeyIn, request: Request, admin: AdminKey) -> NewKeyOut:
        try:
            expires = parse_expiry(body.expires_in) if body.expires_in else None
        except ValueError as exc:
            from fastapi.exceptions import RequestValidationError

            raise RequestValidationError([{"type": "value_error", "loc": ("body", "expires_in"),
                                           "msg": str(exc)}]) from None
        record, key = create_key(request.app.state.store, body.name, body.role, expires, f"key:{admin.name}")
        return NewKeyOut(**KeyOut.of(record).model_dump(), key=key)

    @router.get("", response_model=list[KeyOut], summary="List API keys, oldest first (admin)")
    def list_keys(request: Request, _admin: AdminKey) -> list[KeyOut]:
        return [KeyOut.of(k) for k in request.app.state.store.api_keys()]

    @router.delete("/{key_id}", status_code=204, summary="Revoke an API key by id (admin)",
                   responses={404: {"description": "No active key with this id"}})
    def revoke(key_id: str, request: Request, admin: AdminKey) -> Response:
        store: Store = request.app.state.store
        if not any(k.id == key_id and k.revoked_at is None for k in store.api_keys()):
            raise HTTPException(404, f"no active key with id {key_id!r}")
        store.revoke_key(key_id, actor=f"key:{admin.name}", by_name=False)
        return Response(status_code=204)

    return router
