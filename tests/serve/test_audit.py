"""The audit trail is append-only and hash-chained; `campaign audit verify` finds a changed or deleted event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from typer.testing import CliRunner

from agent.settings import Settings
from serve import cli
from serve.audit import GENESIS, canonical_json, event_hash
from serve.auth import create_key
from serve.store import OutcomeConflictError, OutcomeRecord, Store


def _trail(store: Store) -> None:
    """Key creation and revocation, decisions, an outcome import and a refused one: the audited changes."""
    record, _ = create_key(store, "ana", "approve")
    store.add_job("p1", record.id, {"name": "plan"}, 1)
    store.add_decision("p1", "rejected", "Ana", "too broad", "ana")
    store.add_decision("p1", "approved", "Ana", "narrowed", "ana")
    sent = datetime(2026, 11, 2, 9, tzinfo=UTC)
    store.write_outcomes("p1", [OutcomeRecord("c1", "V1", sent, converted=True),
                                OutcomeRecord("c2", "holdout", sent, converted=False)], actor="key:ana", source="o.csv")
    try:  # a refused import changes nothing and appends nothing
        store.write_outcomes("p1", [OutcomeRecord("c1", "V1", sent, converted=False)], actor="key:ana")
    except OutcomeConflictError:
        pass
    else:
        raise AssertionError("a changing row without replace was imported")
    store.revoke_key(record.id)


def test_audited_changes_form_one_chain(new_url: Callable[[], str]) -> None:
    store = Store(new_url())
    _trail(store)
    events = store.audit_events()
    assert [(e.kind, e.actor, e.subject) for e in events] == [
        ("key.created", "cli", events[0].subject), ("plan.rejected", "key:ana", "p1"),
        ("plan.approved", "key:ana", "p1"), ("outcomes.imported", "key:ana", "p1"),
        ("key.revoked", "cli", events[0].subject)]
    assert events[3].data == {"source": "o.csv", "rows": 2, "inserted": 2, "unchanged": 0, "replaced": 0,
                              "replace": False}
    assert events[1].data == {"by": "Ana", "reason": "too broad"}
    assert [e.prev_hash for e in events] == [GENESIS] + [e.hash for e in events[:-1]]
    for e in events:  # each hash is sha256(prev_hash + canonical JSON of the row), recomputed from the record
        assert e.hash == event_hash(e.prev_hash, e.at, e.kind, e.actor, e.subject, canonical_json(e.data))
    verdict = store.verify_audit()
    assert verdict.ok and verdict.events == 5 and verdict.head == events[-1].hash
    assert [e.id for e in store.audit_events(limit=2)] == [events[3].id, events[4].id]
    store.engine.dispose()


def test_a_changed_or_deleted_event_is_found(new_url: Callable[[], str]) -> None:
    for tamper, broken, reason in [
        ("UPDATE audit_events SET data = '{\"by\":\"Bob\",\"reason\":\"too broad\"}' WHERE id = :id", 0,
         "was changed"),
        ("UPDATE audit_events SET actor = 'cli' WHERE id = :id", 0, "was changed"),
        ("UPDATE audit_events SET at = :at WHERE id = :id", 0, "was changed"),
        ("DELETE FROM audit_events WHERE id = :id", 1, "was deleted"),
    ]:
        store = Store(new_url())
        _trail(store)
        ids = [e.id for e in store.audit_events()]
        with store.engine.begin() as connection:  # straight SQL: the store itself cannot change the trail
            connection.execute(text(tamper), {"id": ids[1], "at": datetime(2026, 1, 1, tzinfo=UTC)})
        verdict = store.verify_audit()
        assert not verdict.ok and verdict.broken_id == ids[1 + broken], tamper
        assert reason in (verdict.reason or "") and verdict.events == 1
        store.engine.dispose()


def test_the_store_has_no_way_to_change_the_trail() -> None:
    names = {n for n in dir(Store) if "audit" in n}
    assert names == {"_audited", "audit", "audit_events", "verify_audit"}


def test_writers_of_two_processes_keep_one_chain(new_url: Callable[[], str]) -> None:
    url = new_url()
    stores = [Store(url), Store(url)]  # two stores: two process locks, as two processes on one database have
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def append(store: Store, writer: int) -> None:
        start.wait()
        try:
            for i in range(15):
                store.audit("test.event", f"writer-{writer}", str(i), {"i": i})
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=append, args=(stores[w % 2], w)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = stores[0].verify_audit()
    assert verdict.ok and verdict.events == 60
    for store in stores:
        store.engine.dispose()


def test_audit_commands_verify_and_list(settings: Settings, tmp_path, monkeypatch) -> None:
    local = settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'audit.db'}"})
    monkeypatch.setattr(cli, "get_settings", lambda: local)
    store = Store(local.database_url)
    _trail(store)
    runner = CliRunner()
    ok = runner.invoke(cli.audit_app, ["verify"])
    assert ok.exit_code == 0 and ok.stdout.startswith("OK: 5 events, head ")
    listed = runner.invoke(cli.audit_app, ["list", "--limit", "2", "--json"])
    assert listed.exit_code == 0 and [line.count('"kind"') for line in listed.stdout.splitlines()] == [1, 1]
    assert '"outcomes.imported"' in listed.stdout and '"key.revoked"' in listed.stdout
    table = runner.invoke(cli.audit_app, ["list"])
    assert table.exit_code == 0 and "plan.approved" in table.stdout
    third = store.audit_events()[2].id
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET subject = 'p2' WHERE id = :id"), {"id": third})
    broken = runner.invoke(cli.audit_app, ["verify"])
    assert broken.exit_code == 1
    assert f"audit trail broken at event {third}: its hash does not match" in " ".join(broken.output.split())
