"""Measure generation throughput of the LLM server: one stream, then N concurrent streams.

Usage::

    .venv/bin/python bench/llm_throughput.py [--tokens 128] [--concurrency 8] [--rounds 2]

Uses the server at ``settings.effective_llm_url`` when one answers, else starts the embedded server for
the run (and reports its startup time and memory) and stops it at the end. Every request asks for exactly
``--tokens`` new tokens (``ignore_eos``), so the numbers do not depend on when the model stops talking.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from openai import OpenAI

from agent.llm.embedded_server import LLMServer, LLMServerError, probe
from agent.settings import Settings

PROMPT = "Write a short marketing e-mail announcing a spring sale on running shoes to loyal customers."


@dataclass
class Result:
    """One measured scenario."""

    name: str
    requests: int
    tokens: int
    seconds: float
    latencies: list[float]

    @property
    def tok_per_s(self) -> float:
        """Generated tokens per second of wall time, over all streams."""
        return self.tokens / self.seconds


def one_request(client: OpenAI, model: str, tokens: int) -> tuple[int, float]:
    """Send one chat request; return (completion tokens, latency in seconds)."""
    started = time.perf_counter()
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=tokens,
        temperature=0.7,
        extra_body={"ignore_eos": True},
    )
    return (reply.usage.completion_tokens if reply.usage else 0), time.perf_counter() - started


def run(client: OpenAI, model: str, name: str, concurrency: int, rounds: int, tokens: int) -> Result:
    """Run ``rounds`` waves of ``concurrency`` simultaneous requests."""
    total = concurrency * rounds
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        done = list(pool.map(lambda _: one_request(client, model, tokens), range(total)))
    seconds = time.perf_counter() - started
    return Result(name, total, sum(t for t, _ in done), seconds, [s for _, s in done])


def group_rss_mb(pid: int) -> float:
    """Resident memory of a process group in MB (server, engine core and worker)."""
    out = subprocess.run(["ps", "-o", "rss=", "-g", str(pid)], capture_output=True, text=True, check=False)
    return sum(int(x) for x in out.stdout.split()) / 1024


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per request")
    parser.add_argument("--concurrency", type=int, default=8, help="simultaneous streams")
    parser.add_argument("--rounds", type=int, default=2, help="waves of requests per scenario")
    args = parser.parse_args(argv)
    settings = Settings()
    url = settings.effective_llm_url
    server: LLMServer | None = None
    facts: list[str] = []
    try:
        if settings.llm_base_url is None and probe(url) is None:
            server = LLMServer(settings)
            started = time.perf_counter()
            server.start()
            server.wait_ready()
            facts.append(f"startup: {time.perf_counter() - started:.1f} s")
        client = OpenAI(base_url=url, api_key=settings.llm_api_key.get_secret_value(), timeout=600)
        one_request(client, settings.llm_model, 8)  # warm-up
        results = [
            run(client, settings.llm_model, "1 stream", 1, args.rounds, args.tokens),
            run(
                client,
                settings.llm_model,
                f"{args.concurrency} streams",
                args.concurrency,
                args.rounds,
                args.tokens,
            ),
        ]
        if server is not None and server.process is not None:
            facts.append(f"RSS (server process group): {group_rss_mb(server.process.pid):.0f} MB")
    except (LLMServerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    print(f"server: {url}  model: {settings.llm_model}  tokens/request: {args.tokens}")
    print(f"{'scenario':<12} {'requests':>8} {'tokens':>7} {'wall s':>7} {'tok/s':>7} {'p50 lat s':>9}")
    for r in results:
        print(
            f"{r.name:<12} {r.requests:>8} {r.tokens:>7} {r.seconds:>7.1f} {r.tok_per_s:>7.1f} "
            f"{statistics.median(r.latencies):>9.2f}"
        )
    for line in facts:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
