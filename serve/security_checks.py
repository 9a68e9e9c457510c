"""The API's side of ``campaign bench security``: schema fuzzing and fault injection on the real app.

:func:`run_security_checks` builds the real app on the MovieLens shop's real tools with scripted LLMs (no
language model: :func:`scripted_copywriter` writes copy from the facts its prompt states and
:func:`scripted_chat` routes chat to the first allowed tools and restates their results), a fresh database and
an admin key; plans one brief so the plan routes are fuzzed past their 404s; fuzzes every operation
(:func:`serve.fuzzing.fuzz_app`); then runs every fault scenario (:data:`serve.faults.FAULTS`).
``agent.cli`` registers it with :func:`eval.bench_security.register_security_checks` (eval may not import serve).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from agent.brief import Brief
from agent.llm import ChatReply, ChatRequest, FunctionModel, reply_json, reply_text
from agent.settings import Settings

SHOP = "movielens"
BRIEF: dict[str, Any] = {
    "name": "Win back sci-fi fans", "goal": "Win back lapsed sci-fi fans before the holidays",
    "audience": "lapsed science fiction fans", "audience_filter": {"lifecycle": ["lapsed"], "genres": ["sci fi"]},
    "channels": ["email", "push"], "send_budget": 5000, "max_segments": 2, "variants_per_channel": 1,
    "max_revisions": 1,
}
"""The brief the checks plan (the API tests' small brief)."""
FUZZ_EXAMPLES = 25
"""Requests generated per operation and generation mode (valid and schema-violating): over 1,000 in all."""


def _copy_home(settings: Settings, target: Path) -> Path:
    """Copy the home's portraits, derived tables and effect models to ``target`` for the checks to damage.

    The fuzzed privacy routes erase random customer ids (and drop the saved models they touch), and a fault
    scenario deletes and corrupts the portrait store: none of that may reach the user's own home. Audiences,
    scale-test stores, logs, the API database and the LLM weights are not needed and are left out.
    """
    skipped_top = {"audiences", "scale", "logs", "run", "campaign.db"}
    weights = settings.llm_weights_dir

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        if here == settings.home:
            return skipped_top & set(names)
        return {weights.name} & set(names) if here == weights.parent else set()

    if settings.home.is_dir():
        shutil.copytree(settings.home, target, symlinks=True, ignore=ignore)
    else:
        target.mkdir(parents=True)
    return target


def scripted_copywriter(request: ChatRequest) -> ChatReply:
    """A scripted copy LLM (no model): copy that names the title its prompt states."""
    prompt = request.messages[-1].content or ""
    title = re.search(r"Title: (.+?)(?: \(write it.*)?$", prompt, re.MULTILINE)
    if title is None:
        return reply_text("?")
    headline = f"{title.group(1)} is back"
    return reply_json({"headline": headline if len(headline) <= 45 else "Back for you tonight",
                       "body": f"{title.group(1)} is waiting for you to watch it again tonight.", "cta": "Watch now"})


def scripted_chat(request: ChatRequest) -> ChatReply:
    """A scripted chat LLM (no model): routes to the first allowed tools, answers by restating the tool results."""
    if request.schema_name == "ChatRoute":
        props = (request.response_schema or {})["properties"]

        def choices(schema: dict[str, Any]) -> list[Any]:
            return list(schema["enum"]) if "enum" in schema else [schema["const"]]

        n = props["tools"]["minItems"]
        return reply_json({"tools": choices(props["tools"]["items"])[:n], "audience": choices(props["audience"])[0]})
    prompt = request.messages[-1].content or ""
    return reply_text(" ".join(line[2:] for line in prompt.splitlines() if line.startswith("- ")) or "?")


def run_security_checks(settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Fuzz the real app and run every fault scenario.

    Args:
        settings: Settings (home with the MovieLens portraits and models; the database is a temporary one).
        console: Where progress is shown.

    Returns:
        ``fuzz_requests``, ``server_errors``, ``schema_violations``, ``faults``, ``faults_survived``, and
        ``details`` (the fuzz report's status counts and failures, each fault's result, seconds per part).
    """
    from fastapi.testclient import TestClient

    from agent.assemble import build_tools
    from serve.api import create_app
    from serve.auth import create_key
    from serve.faults import FaultRig, run_faults, wait_final
    from serve.fuzzing import fuzz_app
    from serve.store import Store

    def say(text: str) -> None:
        if console is not None:
            console.print(text, highlight=False)

    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="campaign-security-") as folder:
        work = Path(folder)
        local = settings.model_copy(update={"home": _copy_home(settings, work / "home"),
                                            "db_url": f"sqlite:///{work / 'api.db'}"})
        start = time.perf_counter()
        say(f"loading the {SHOP} shop's tools …")
        tools = dataclasses.replace(build_tools(local, FunctionModel(scripted_copywriter, name="scripted"), console,
                                                SHOP), audience_dir=work / "audiences")  # not the home's
        store = Store(local.database_url)
        _, key = create_key(store, "security-bench", "admin")
        headers = {"Authorization": f"Bearer {key}"}
        app = create_app(local, tools, FunctionModel(scripted_chat, name="scripted"), store=store,
                         llm_probe=lambda: ["scripted"])
        with TestClient(app) as client:
            job_id = client.post("/v1/plans", json=BRIEF, headers=headers).json()["id"]
            job = wait_final(store, job_id)
        seconds["setup"] = time.perf_counter() - start
        say(f"fuzzing every operation ({FUZZ_EXAMPLES} examples per operation and mode; plan {job_id} "
            f"{job.status if job else 'did not end'}) …")
        start = time.perf_counter()
        fuzz = fuzz_app(app, headers, max_examples=FUZZ_EXAMPLES, known={"job_id": [job_id]})
        seconds["fuzz"] = time.perf_counter() - start
        say(f"fuzz: {fuzz.requests} requests, {fuzz.server_errors} server errors, "
            f"{fuzz.schema_violations} schema violations; fault scenarios …")
        start = time.perf_counter()
        (work / "faults").mkdir()
        faults = run_faults(FaultRig(settings=local, tools=tools, brief=Brief(**BRIEF), workdir=work / "faults"))
        seconds["faults"] = time.perf_counter() - start
    for fault in faults:
        say(f"  fault {fault.name}: {'survived' if fault.survived else 'NOT SURVIVED'} — {fault.detail}")
    return {"fuzz_requests": fuzz.requests, "server_errors": fuzz.server_errors,
            "schema_violations": fuzz.schema_violations, "faults": len(faults),
            "faults_survived": sum(f.survived for f in faults),
            "details": {"fuzz": fuzz.model_dump(), "faults": [f.model_dump() for f in faults],
                        "seconds": {k: round(v, 1) for k, v in seconds.items()}}}
