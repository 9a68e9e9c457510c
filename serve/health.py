"""Health of the API's dependencies: the LLM server, the vector store and the models (``GET /healthz``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.llm import ChatModel
from agent.loop import PlannerTools
from agent.settings import Settings
from serve.jobs import JobManager


def health(settings: Settings, tools: PlannerTools, chat_model: ChatModel,
           check_llm: Callable[[], list[str] | None], jobs: JobManager) -> dict[str, Any]:
    """Check the LLM server, the vector store and the models; ``status`` is ``ok`` only when all answer.

    The vector store is ok when it holds portraits and the in-memory mirror the searches run on reads all of them
    (else ``vector_store.error`` says why; a mirror that cannot read the store would make every plan's audience empty).
    """
    llm: dict[str, Any]
    store: dict[str, Any]
    try:
        names = check_llm()
        llm = {"ok": names is not None and chat_model.name in names, "url": settings.effective_llm_url,
               "model": chat_model.name, "served": names}
    except Exception as exc:  # a foreign server on the port: reported, not raised
        llm = {"ok": False, "url": settings.effective_llm_url, "model": chat_model.name, "error": str(exc)}
    try:
        count = tools.profiles.store.count()
        store = {"ok": count > 0, "portraits": count}
    except Exception as exc:
        store = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if store["ok"]:  # the searches run on the in-memory mirror: it must read the whole store
        mirror = tools.profiles.store.mirror_status()
        if not mirror["ok"]:
            store = {**store, "ok": False, "error": mirror["error"]}
    card = tools.effect.model_card
    models = {"llm": chat_model.name, "recommender": tools.recommend.method,
              "effect": {k: card.get(k) for k in ("model", "created", "metric") if k in card}}
    ok = llm["ok"] and store["ok"]
    return {"status": "ok" if ok else "degraded", "llm": llm, "vector_store": store, "models": models,
            "jobs": {"workers": jobs.workers, "queue_size": jobs.queue_size, "queued": jobs.queued,
                     "running": jobs.running}}
