"""The injection suite's web probe: store a payload through the real API and read the pages back.

:class:`ApiWebProbe` runs the real app (:func:`serve.api.create_app`) in process with FastAPI's TestClient, on a
temporary SQLite database and a fresh key. For a brief field it creates a plan whose brief holds the payload (the
job is stored and then fails at once: the probe's planner runs nothing, the brief is what the pages show); for a
chat message it sends one chat turn. Then it reads the page shell, its script and the stored JSON back, and
reports what would let the payload run in a browser:

* the payload, unescaped, in an HTML response (the page shell, ``/``);
* an HTML sink in the page's script (``innerHTML``, ``outerHTML``, ``insertAdjacentHTML``, ``document.write``,
  ``eval``, ``new Function``, a ``href``/``src`` set from data rather than a literal or a same-origin blob URL):
  the page must insert every server text with ``textContent``;
* a Content-Security-Policy on the page that allows inline or remote script;
* a JSON or event-stream route that answers with another content type (a browser would sniff it as HTML), or
  without ``nosniff`` on the page;
* the API key in any response.

Registered with the eval by ``agent.cli`` (:func:`eval.injection.register_web_probe`): the eval layer does not
import ``serve``.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from agent.brief import Brief
from agent.llm import ChatModel
from agent.loop import ToolSource
from agent.plan import CampaignPlan
from agent.settings import Settings
from serve.api import create_app
from serve.auth import create_key
from serve.store import Store

HTML_SINKS = re.compile(r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\s*\(|new Function|"
                        r"\.(?:href|src)\s*=(?!=)(?!\s*(?:URL\.createObjectURL\(|[\"'`]))|"
                        r"setAttribute\(\s*[\"'](?:href|src|on\w+)", re.IGNORECASE)
BRIEF: dict[str, Any] = {"name": "Probe", "goal": "Win back lapsed fans", "audience": "lapsed science fiction fans",
                         "channels": ["email"], "send_budget": 1000}


class _Quiet(logging.Filter):
    """Drops the job manager's log of the probe's jobs failing (they fail by design)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "injection probe" not in str(record.exc_info[1] if record.exc_info else "")


class _NoPlanner:
    """A planner that runs nothing: the probe only needs the brief stored."""

    def run(self, brief: Brief) -> CampaignPlan:
        raise RuntimeError("the injection probe runs no plan")


class ApiWebProbe:
    """Stores payloads through the real API and checks what the browser would get (see the module docstring).

    Args:
        settings: Settings (the database is replaced by a temporary SQLite file).
        tools: The shops' tools.
        chat_model: The chat's model.
    """

    def __init__(self, settings: Settings, tools: ToolSource, chat_model: ChatModel) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="injection-probe-")
        url = f"sqlite:///{Path(self._folder.name) / 'probe.db'}"
        local = settings.model_copy(update={"db_url": url, "api_workers": 1})
        store = Store(url)
        _, self.key = create_key(store, "injection-probe")
        app = create_app(local, tools, chat_model, planner_factory=lambda on_step: _NoPlanner(), store=store,
                         llm_probe=lambda: ["probe"])
        self._quiet = _Quiet()
        logging.getLogger("serve.jobs").addFilter(self._quiet)
        self.client = TestClient(app)
        self.client.__enter__()
        self.headers = {"Authorization": f"Bearer {self.key}"}

    def problems(self, field: str, payload: str) -> list[str]:
        """Store ``payload`` in brief ``field`` (``message``: a chat message) and return what is unsafe."""
        found: list[str] = []
        if field == "message":
            with self.client.stream("POST", "/v1/chat", json={"message": payload}, headers=self.headers) as reply:
                body = "".join(reply.iter_text())
                kind = reply.headers.get("content-type", "")
            if reply.status_code == 200 and not kind.startswith("text/event-stream"):
                found.append(f"the chat stream is served as {kind!r}")
            found += self._key(body, "the chat stream")
        else:
            brief = dict(BRIEF, **{field: [payload] if field == "banned_phrases" else payload})
            created = self.client.post("/v1/plans", json=brief, headers=self.headers)
            found += self._json(created, "the created plan")
            if created.status_code in (200, 201, 202):
                job = created.json()["id"]
                found += self._json(self.client.get(f"/v1/plans/{job}", headers=self.headers), "the plan")
            found += self._json(self.client.get("/v1/plans", headers=self.headers), "the plan list")
        page = self.client.get("/")
        if payload in page.text:
            found.append("the payload unescaped in the page")
        found += self._page_headers(page.headers)
        script = self.client.get("/web/app.js").text
        sink = HTML_SINKS.search(script)
        if sink:
            found.append(f"an HTML sink in the page's script: {sink.group(0)!r}")
        return found

    def _json(self, reply: Any, where: str) -> list[str]:
        kind = reply.headers.get("content-type", "")
        out = [] if kind.startswith("application/json") else [f"{where} is served as {kind!r}"]
        return out + self._key(reply.text, where)

    def _key(self, text: str, where: str) -> list[str]:
        return [f"the API key in {where}"] if self.key in text else []

    @staticmethod
    def _page_headers(headers: Any) -> list[str]:
        out = []
        policy = headers.get("content-security-policy", "")
        script = re.search(r"script-src ([^;]*)", policy) or re.search(r"default-src ([^;]*)", policy)
        if script is None or "'unsafe-inline'" in script.group(1) or "*" in script.group(1):
            out.append(f"the page's Content-Security-Policy allows inline or remote script: {policy!r}")
        if headers.get("x-content-type-options") != "nosniff":
            out.append("the page is served without X-Content-Type-Options: nosniff")
        return out

    def close(self) -> None:
        """Stop the app and remove the temporary database."""
        self.client.__exit__(None, None, None)
        logging.getLogger("serve.jobs").removeFilter(self._quiet)
        self._folder.cleanup()


def web_probe(settings: Settings, tools: ToolSource, chat_model: ChatModel) -> ApiWebProbe:
    """Return an :class:`ApiWebProbe` (the injection suite's probe factory)."""
    return ApiWebProbe(settings, tools, chat_model)
