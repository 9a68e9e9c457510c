"""The audit trail's hash chain: canonical JSON of an event, its hash, and the walk that verifies a trail.

Each event (plan decisions, outcome imports, keys created or revoked, and key use) is one row of ``audit_events``
whose ``hash`` is ``sha256(prev_hash + canonical JSON of the row)``; the first row's ``prev_hash`` is
:data:`GENESIS`. Changing any stored field of a row breaks its own hash; deleting or inserting a row breaks the next
row's link. The :class:`~serve.store.Store` only appends (it has no update or delete for the
trail). What a chain alone cannot show is a cut of its *newest* rows: ``campaign audit verify`` prints the head hash
and count, so an operator who records them elsewhere can detect that too.

Key use is recorded at most once per key per minute (the first request of each minute), so the trail grows
with activity, not with traffic; state-changing requests are recorded by their own events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event."""


@dataclass(frozen=True)
class AuditEvent:
    """One stored audit event.

    Attributes:
        id: Its row id (the trail's order).
        at: When it happened (UTC).
        kind: What happened, e.g. ``plan.approved``, ``outcomes.imported``, ``key.created``, ``key.used``.
        actor: Who did it: a key's name (``key:NAME``) or ``cli`` for a local command.
        subject: What it happened to: a plan id or a key id.
        data: Details (JSON object).
        prev_hash: The previous event's hash (:data:`GENESIS` for the first).
        hash: sha256 of ``prev_hash`` and this event's canonical JSON.
    """

    id: int
    at: datetime
    kind: str
    actor: str
    subject: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    """Return the one JSON text of ``value``: sorted keys, no spaces, UTF-8 as is, times as ISO 8601."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
                      allow_nan=False)


def _utc(at: datetime) -> datetime:
    """Times as stored: UTC (SQLite drops the zone), so that a read-back row hashes as it was written."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def event_hash(prev_hash: str, at: datetime, kind: str, actor: str, subject: str, data_json: str) -> str:
    """Return the hash of an event: sha256(``prev_hash`` + canonical JSON of its fields).

    Args:
        prev_hash: The previous event's hash.
        at: When it happened.
        kind: What happened.
        actor: Who did it.
        subject: What it happened to.
        data_json: Its details as canonical JSON text (:func:`canonical_json`).
    """
    row = canonical_json({"at": _utc(at).isoformat(timespec="microseconds"), "kind": kind, "actor": actor,
                          "subject": subject, "data": json.loads(data_json)})
    return hashlib.sha256((prev_hash + row).encode("utf-8")).hexdigest()


class AuditVerdict(BaseModel):
    """What :func:`verify_chain` found."""

    ok: bool = Field(description="Every event's hash and link hold.")
    events: int = Field(description="Events checked.")
    head: str = Field(description="The last event's hash (GENESIS for an empty trail); record it to detect a cut "
                                  "of the newest events.")
    broken_id: int | None = Field(None, description="The first event whose hash or link does not hold.")
    reason: str | None = Field(None, description="Why that event breaks the chain.")


def verify_chain(rows: Iterable[tuple[int, datetime, str, str, str, str, str, str]]) -> AuditVerdict:
    """Walk a trail oldest first and find the first event that breaks the chain.

    Args:
        rows: ``(id, at, kind, actor, subject, data_json, prev_hash, hash)`` in id order, as stored.

    Returns:
        OK with the count and head hash, or the first broken event's id and why.
    """
    expected, count = GENESIS, 0
    for row_id, at, kind, actor, subject, data_json, prev_hash, stored in rows:
        if prev_hash != expected:
            return AuditVerdict(ok=False, events=count, head=expected, broken_id=row_id,
                                reason="its link does not name the event before it (an event was deleted, "
                                       "inserted or reordered)")
        try:
            actual = event_hash(prev_hash, at, kind, actor, subject, data_json)
        except ValueError:  # data that is not JSON
            actual = ""
        if actual != stored:
            return AuditVerdict(ok=False, events=count, head=expected, broken_id=row_id,
                                reason="its hash does not match its content (the event was changed)")
        expected, count = stored, count + 1
    return AuditVerdict(ok=True, events=count, head=expected)
