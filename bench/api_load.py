"""Measure the campaign API's own overhead: requests/s of GET /v1/plans/{id} and POST /v1/plans on loopback.

Usage::

    .venv/bin/python bench/api_load.py [--seconds 10] [--connections 16] [--tool wrk|httpx]

Starts the API in a separate process (uvicorn, one process, access log off) on a free 127.0.0.1 port with a
scripted LLM and a fresh SQLite database, creates a key, and loads it with ``wrk`` (``apt-get install -y
wrk``) or, without wrk, a bounded pool of httpx threads. Every scenario is bounded in time; nothing but
loopback is contacted.

Scenarios: ``GET /v1/plans/{id}`` of a finished plan (the full plan JSON) and ``POST /v1/plans`` with a
valid brief. For POST the workers replay one plan computed at
startup by the real planner (same step events and plan size, no CPU-heavy planning), so the number is the
server's cost of accepting, queueing, running and storing a job, not the planner's; the queue is made large
enough that nothing is refused.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

BRIEF = {"name": "Bench", "goal": "Win back lapsed sci-fi fans", "audience": "lapsed science fiction fans",
         "audience_filter": {"lifecycle": ["lapsed"], "genres": ["Sci-Fi"]}, "channels": ["email", "push"],
         "send_budget": 5000, "max_segments": 2, "variants_per_channel": 1, "max_revisions": 1}


def serve(port: int, db: Path) -> None:
    """Run the API with a scripted LLM and a replaying planner until killed (the server process)."""
    import re as regex

    import uvicorn

    from agent.assemble import build_tools
    from agent.brief import parse_brief
    from agent.llm.scripted import FunctionModel, reply_json, reply_text
    from agent.loop import Planner
    from agent.plan import CampaignPlan
    from agent.settings import Settings
    from agent.trace import StepListener
    from serve.api import create_app

    def copywriter(request: Any) -> Any:
        title = regex.search(r"Title: (.+?)(?: \(write it.*)?$", request.messages[-1].content or "", regex.MULTILINE)
        if title is None:
            return reply_text("?")
        return reply_json({"headline": f"{title.group(1)} is back", "cta": "Watch now",
                           "body": f"{title.group(1)} is waiting for you to watch it again tonight"})

    settings = Settings(db_url=f"sqlite:///{db}", api_workers=2, api_queue_size=10_000, llm_validation_retries=0)
    tools = build_tools(settings, FunctionModel(copywriter))  # the production wiring, scripted copywriter
    recorded = Planner(tools).run(parse_brief(BRIEF))

    class Replay:
        """Emits the recorded plan's step events and returns it under a new plan id."""

        def __init__(self, on_step: StepListener) -> None:
            self.on_step = on_step

        def run(self, brief: Any) -> CampaignPlan:
            for step in recorded.trace:
                self.on_step("start", step)
                self.on_step("end", step)
            return recorded.model_copy(update={"plan_id": uuid.uuid4().hex[:12]})

    app = create_app(settings, tools, FunctionModel(lambda r: reply_text("ok"), name="scripted"),
                     planner_factory=Replay, llm_probe=lambda: ["scripted"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(url: str, key: str, seconds: int, connections: int, body: dict[str, Any] | None) -> dict[str, Any]:
    """Run wrk against ``url`` (POST ``body`` as JSON if given) and parse its summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.headers["Authorization"] = "Bearer {key}"\n')
        if body is not None:
            script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
            script.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    Path(script.name).unlink()

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out)
        if match is None:
            raise SystemExit(f"cannot read wrk's output ({pattern!r} not found):\n{out}")
        return match

    def ms(label: str) -> float:
        value, unit = find(rf"{label}\s+([\d.]+)(us|ms|s)").groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    bad, errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out), re.search(r"Socket errors: (.*)", out)
    return {"requests": int(find(r"(\d+) requests in").group(1)),
            "rps": float(find(r"Requests/sec:\s+([\d.]+)").group(1)), "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else ""}


def pool(url: str, key: str, seconds: int, connections: int, body: dict[str, Any] | None) -> dict[str, Any]:
    """Without wrk: ``connections`` httpx threads for ``seconds`` (at most 200,000 requests in all)."""
    latencies: list[float] = []
    bad = [0]
    lock, deadline = threading.Lock(), time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            while time.monotonic() < deadline and len(latencies) < 200_000:
                started = time.perf_counter()
                response = client.post(url, json=body) if body is not None else client.get(url)
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    bad[0] += response.status_code >= 300

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / took,
            "p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[int(len(latencies) * 0.99)],
            "non_2xx": bad[0], "socket_errors": ""}


def main() -> int:
    """Start the server, run the scenarios, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="Duration of each scenario (max 60).")
    parser.add_argument("--connections", type=int, default=16, help="Concurrent connections (max 256).")
    parser.add_argument("--tool", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db)
        return 0
    seconds, connections = min(args.seconds, 60), min(args.connections, 256)

    from agent.settings import Settings
    from serve.auth import create_key
    from serve.store import Store

    folder = Path(tempfile.mkdtemp(prefix="api-load-"))
    db, port = folder / "bench.db", free_port()
    _, key = create_key(Store(Settings(db_url=f"sqlite:///{db}").database_url), "bench")
    base = f"http://127.0.0.1:{port}"
    log = (folder / "server.log").open("w")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--db", str(db)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        while server.poll() is None and time.monotonic() - started < 600:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"the API did not start; see {folder / 'server.log'}")
        headers = {"Authorization": f"Bearer {key}"}
        done_id = httpx.post(f"{base}/v1/plans", json=BRIEF, headers=headers).json()["id"]
        while httpx.get(f"{base}/v1/plans/{done_id}", headers=headers).json()["status"] != "done":
            time.sleep(0.2)
        size = len(httpx.get(f"{base}/v1/plans/{done_id}", headers=headers).content)
        run = wrk if args.tool == "wrk" else pool
        rows = [
            (f"GET /v1/plans/{{id}} (done, {size / 1000:.0f} kB)", run(f"{base}/v1/plans/{done_id}", key, seconds,
                                                                      connections, None)),
            ("POST /v1/plans (job accepted, replayed, stored)", run(f"{base}/v1/plans", key, seconds, connections,
                                                                   BRIEF)),
        ]
        backlog = httpx.get(f"{base}/healthz").json()["jobs"]
        print(f"\n{args.tool}, {connections} connections, {seconds} s per scenario, 1 uvicorn process, "
              f"2 plan workers, loopback\n")
        print("| scenario | requests | req/s | p50 ms | p99 ms | non-2xx |")
        print("|---|---|---|---|---|---|")
        for name, r in rows:
            print(f"| {name} | {r['requests']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                  f"{r['non_2xx']}{' ' + r['socket_errors'] if r['socket_errors'] else ''} |")
        print(f"\njobs still queued after the POST run: {backlog['queued']} (workers drain them after the run)")
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    shutil.rmtree(folder)  # kept (with the server log) only when the run failed
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
