"""/healthz notices a vector store that the in-memory portrait mirror cannot read (issue 18)."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient

from agent.settings import Settings
from tests.serve.api_harness import make_app
from tests.tools.portraits.flaky_store import FlakyCollection
from tools.audience import ProfilesTool
from tools.portraits import PortraitStore


def test_healthz_degrades_while_the_mirror_cannot_read_the_store(settings: Settings, api_tools, tmp_path) -> None:
    fresh = PortraitStore.from_settings(settings)  # no mirror yet, as after a restart
    flaky = FlakyCollection(fresh.collection, "empty")
    fresh.collection = flaky  # type: ignore[assignment]
    tools = dataclasses.replace(api_tools, profiles=ProfilesTool(fresh))
    with TestClient(make_app(settings, tools, tmp_path / "api.db")) as client:
        down = client.get("/healthz")
        flaky.broken = False
        up = client.get("/healthz")
    count = api_tools.profiles.store.count()
    assert down.status_code == 503 and down.json()["status"] == "degraded"
    error = f"the portrait mirror read 0 of the {count} portraits the store counts"
    assert down.json()["vector_store"] == {"ok": False, "portraits": count, "error": error}
    assert up.status_code == 200 and up.json()["vector_store"] == {"ok": True, "portraits": count}
