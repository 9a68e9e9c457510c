"""Load test of the API: concurrent clients against the plan and read routes of a real server on loopback.

:func:`run_load` starts ``campaign serve``'s app under uvicorn in a child process (``python -m serve.load serve``:
the MovieLens shop's real tools with the scripted copy and chat LLMs of :mod:`serve.security_checks`, or with
``--llm real`` the LLM server the settings point at, e.g. the embedded vLLM), gives each client its own API key,
and runs ``clients`` asynchronous httpx clients for ``duration_s`` seconds. Each client loops over a mix of
requests: queue a plan (1 in :data:`PLAN_EVERY`), list plans, read a plan, list shops, ``/healthz``. A response
is an error unless it is 200, 202, or an intended 429 (queue full, or the key's rate limit). After the clients
stop, every accepted plan must end (done, failed or cancelled) within a bound; the queue never holds more than
``api_queue_size`` plans. :func:`run_burst` sends ``n`` plan requests at once (the embedded-LLM check).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console

from agent.settings import Settings

PLAN_EVERY = 10
"""One request in this many queues a plan; the others read."""
READY_S = 600.0
"""How long the child server may take to load the shop and answer ``/healthz``."""
DRAIN_S = 600.0
"""How long the accepted plans may take to end after the clients stop."""
INTENDED = {200, 202, 429}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def api_server(settings: Settings, db: Path, llm: str = "scripted", queue_size: int | None = None
               ) -> Iterator[str]:
    """Run the API in a child process on a free loopback port; yield its base URL once ``/healthz`` answers."""
    port = _free_port()
    env = {**os.environ, "CAMPAIGN_DB_URL": f"sqlite:///{db}", "CAMPAIGN_HOME": str(settings.home),
           "CAMPAIGN_API_RATE_LIMIT_PER_MINUTE": os.environ.get("CAMPAIGN_API_RATE_LIMIT_PER_MINUTE", "100000")}
    if queue_size is not None:
        env["CAMPAIGN_API_QUEUE_SIZE"] = str(queue_size)
    log = (db.parent / "server.log").open("w")
    child = subprocess.Popen([sys.executable, "-m", "serve.load", "serve", str(port), llm, str(db.parent)], env=env,
                             stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the API server exited ({child.returncode}); see {db.parent / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=5).status_code in (200, 503):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not answer within {READY_S:.0f} s")
            time.sleep(1)
        yield url
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(30)
        log.close()


def _keys(db: Path, n: int) -> list[str]:
    from serve.auth import create_key
    from serve.store import Store

    store = Store(f"sqlite:///{db}")
    return [create_key(store, f"load-{i}", "plan")[1] for i in range(n)]


async def _client(url: str, key: str, until: float, brief: dict[str, Any], index: int,
                  out: list[tuple[str, int, float]], accepted: list[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        i = index
        while time.monotonic() < until:
            i += 1
            kind = i % PLAN_EVERY
            start = time.perf_counter()
            try:
                if kind == 0:
                    route, response = "POST /v1/plans", await client.post("/v1/plans", json=brief)
                    if response.status_code == 202:
                        accepted.append(response.json()["id"])
                elif kind in (1, 2, 3) and accepted:
                    route, response = "GET /v1/plans/{id}", await client.get(f"/v1/plans/{accepted[i % len(accepted)]}")
                elif kind in (4, 5, 6):
                    route, response = "GET /v1/plans", await client.get("/v1/plans", params={"limit": 20})
                elif kind in (7, 8):
                    route, response = "GET /v1/shops", await client.get("/v1/shops")
                else:
                    route, response = "GET /healthz", await client.get("/healthz")
                status = response.status_code
            except httpx.HTTPError as exc:
                route, status = f"error {type(exc).__name__}", 0
            out.append((route, status, time.perf_counter() - start))


def _wait_ended(url: str, key: str, ids: list[str]) -> tuple[int, int]:
    """Wait until every accepted plan has a final status; return (ended, queued at most seen)."""
    headers = {"Authorization": f"Bearer {key}"}
    deadline, ended, most_queued = time.monotonic() + DRAIN_S, 0, 0
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while time.monotonic() < deadline:
            most_queued = max(most_queued, client.get("/healthz").json()["jobs"]["queued"])
            statuses = [client.get(f"/v1/plans/{job_id}").json()["status"] for job_id in ids]
            ended = sum(s in ("done", "failed", "cancelled") for s in statuses)
            if ended == len(ids):
                break
            time.sleep(2)
    return ended, most_queued


def _percentile_ms(latencies: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(latencies) * 1000, q)), 1) if latencies else 0.0


def run_load(settings: Settings, console: Console | None = None, clients: int = 50, duration_s: float = 60.0,
             llm: str = "scripted") -> dict[str, Any]:
    """Run ``clients`` concurrent clients for ``duration_s`` seconds against a child API server.

    Returns:
        Requests, errors (anything but 200, 202 and 429, or no answer), 429s, p50/p99 latency in ms (all and per
        route), requests per second, plans accepted and ended, the most plans seen queued and the queue's size.
    """
    from serve.security_checks import BRIEF

    with tempfile.TemporaryDirectory(prefix="campaign-load-") as folder:
        db = Path(folder) / "api.db"
        keys = _keys(db, clients + 1)
        if console is not None:
            console.print(f"starting the API ({llm} LLM) …", highlight=False)
        with api_server(settings, db, llm) as url:
            if console is not None:
                console.print(f"{clients} clients for {duration_s:.0f} s against {url} …", highlight=False)
            results: list[tuple[str, int, float]] = []
            accepted: list[str] = []

            async def main() -> None:
                until = time.monotonic() + duration_s
                await asyncio.gather(*[_client(url, keys[i], until, BRIEF, i, results, accepted)
                                       for i in range(clients)])

            started = time.perf_counter()
            asyncio.run(main())
            elapsed = time.perf_counter() - started
            ended, most_queued = _wait_ended(url, keys[-1], accepted)
            queue_size = httpx.get(f"{url}/healthz", timeout=30).json()["jobs"]["queue_size"]
    statuses = Counter(status for _, status, _ in results)
    per_route: dict[str, dict[str, Any]] = {}
    for route in sorted({r for r, _, _ in results}):
        times = [t for r, _, t in results if r == route]
        per_route[route] = {"requests": len(times), "p50_ms": _percentile_ms(times, 50),
                            "p99_ms": _percentile_ms(times, 99)}
    latencies = [t for _, _, t in results]
    return {"clients": clients, "duration_s": round(elapsed, 1), "llm": llm, "requests": len(results),
            "requests_per_s": round(len(results) / elapsed, 1),
            "errors": sum(n for s, n in statuses.items() if s not in INTENDED),
            "rejected_429": statuses.get(429, 0), "p50_ms": _percentile_ms(latencies, 50),
            "p99_ms": _percentile_ms(latencies, 99), "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "routes": per_route, "plans_accepted": len(accepted), "plans_ended": ended,
            "most_queued": most_queued, "queue_size": queue_size}


def run_burst(settings: Settings, n: int = 20, llm: str = "real", queue_size: int | None = None) -> dict[str, Any]:
    """Send ``n`` plan requests at once to a child API server; wait until every accepted plan ends.

    Returns:
        Accepted (202) and rejected (429) counts, other answers, the 429's message and Retry-After, plans ended,
        the most plans seen queued and the queue's size.
    """
    from serve.security_checks import BRIEF

    with tempfile.TemporaryDirectory(prefix="campaign-burst-") as folder:
        db = Path(folder) / "api.db"
        (key,) = _keys(db, 1)
        with api_server(settings, db, llm, queue_size) as url:

            async def burst() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                             timeout=60) as client:
                    return list(await asyncio.gather(*[client.post("/v1/plans", json=BRIEF) for _ in range(n)]))

            answers = asyncio.run(burst())
            accepted = [r.json()["id"] for r in answers if r.status_code == 202]
            rejected = [r for r in answers if r.status_code == 429]
            started = time.perf_counter()
            ended, most_queued = _wait_ended(url, key, accepted)
            jobs = [httpx.get(f"{url}/v1/plans/{i}", headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
                    for i in accepted]
            final = Counter(job["status"] for job in jobs)
            reasons = Counter(str(job.get("error"))[:160] for job in jobs if job.get("error"))
            queue_size = httpx.get(f"{url}/healthz", timeout=30).json()["jobs"]["queue_size"]
    return {"requests": n, "accepted": len(accepted), "rejected_429": len(rejected),
            "other": sorted(r.status_code for r in answers if r.status_code not in (202, 429)),
            "message_429": rejected[0].json().get("detail") if rejected else None,
            "retry_after": rejected[0].headers.get("retry-after") if rejected else None,
            "ended": ended, "final_statuses": dict(final), "failure_reasons": dict(reasons),
            "drain_s": round(time.perf_counter() - started, 1),
            "most_queued": most_queued, "queue_size": queue_size}


def _serve(port: int, llm: str, folder: Path) -> None:
    """Child process: the real app on the MovieLens shop's tools, under uvicorn on 127.0.0.1:``port``.

    The plans' audience files go to ``folder`` (the run's temporary folder), not the home's.
    """
    import dataclasses

    import uvicorn

    from agent.assemble import build_tools
    from agent.llm import FunctionModel, OpenAIBackend
    from agent.settings import get_settings
    from serve.api import create_app
    from serve.security_checks import SHOP, scripted_chat, scripted_copywriter

    settings = get_settings()
    if llm == "real":
        backend: Any = OpenAIBackend.from_settings(settings)
        chat: Any = backend
    else:
        backend = FunctionModel(scripted_copywriter, name="scripted")
        chat = FunctionModel(scripted_chat, name="scripted")
    tools = dataclasses.replace(build_tools(settings, backend, None, SHOP), audience_dir=folder / "audiences")
    app = create_app(settings, tools, chat, llm_probe=(lambda: ["scripted"]) if llm != "real" else None)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        _serve(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
