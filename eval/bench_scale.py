"""Benchmark the plan loop on scale-test shops of 10k, 100k and 1M customers (``campaign bench scale --json``).

SCALE TEST DATA: the customers are replicas of the real retail shop's customers (UCI Online Retail), perturbed
(:mod:`tools.scale`): new ids, history shifted in time, money jittered, portrait embeddings perturbed; their purchase
summaries and sparse customer × product matrix are replicated; the real shop's fitted purchase ranker and recommend
tool answer for each replica as its source customer. Nothing here is a real customer.

Per size, measured on this machine:

* ingestion into the size's own Chroma store (batched, resumable, incremental: a re-run writes only what is missing),
  reported on its own and excluded from plan time, with the store's size on disk;
* in a fresh worker process per size (so peak RSS is that size's): building the scale shop's summaries and matrix,
  loading the store's in-memory mirror (once per process, as ``campaign serve`` does), retrieval latency p95 of
  :data:`RETRIEVAL_QUERIES` audience texts (top 200, :data:`RETRIEVAL_REPEATS` times each), batch scoring of
  :data:`SCORE_CUSTOMERS` replicas locally and on a local Ray with 2 workers (customers/s, equal tables), the
  end-to-end plan of the Christmas brief (``examples/briefs/christmas_gifts.yaml``, every matching customer) with
  the LLM server of the settings (the embedded vLLM; it must be running: the benchmark starts none), its LLM
  calls, LLM and non-LLM time, and the worker's peak RSS. The RSS of the vLLM and Ray processes is read from
  ``/proc`` and reported apart; the embedded Chroma runs inside the worker (with a Chroma server, its processes
  are reported apart too). When the LLM fails mid-plan, the size reports ``plan_error_<size>`` and the rest.

Run ``python -m eval.bench_scale --sizes 10k,100k`` to print the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from agent.brief import check_against_shop, load_brief
from agent.llm import LLMError, OpenAIBackend, probe
from agent.loop import Planner, PlannerTools
from agent.plan import CampaignPlan
from agent.progress import progress_bar
from agent.settings import Settings
from agent.trace import TraceStep
from tools.audience import AudienceQuery, ProfilesTool
from tools.copywriting import CopyTool
from tools.effect import PurchaseEffect, headline_ctr_model, predict_effect
from tools.portraits import PortraitStore, open_portrait_store
from tools.recommend import RecommendTool
from tools.scale import (
    SCALE_LABEL,
    ScaleEffect,
    ScaleRecommend,
    SourcePortraits,
    build_scale_shop,
    ingest_scale_store,
    open_scale_store,
    parse_size,
    replica_table,
    scale_shop_name,
    size_label,
)
from tools.scoring import LocalScorer, RayScorer, engines_agree, score_propensity, score_recommendations
from tools.shop import load_shop

SOURCE_SHOP = "retail"
SIZES = ("10k", "100k", "1m")
SEED = 42
BRIEF = Path(__file__).resolve().parents[1] / "examples" / "briefs" / "christmas_gifts.yaml"
RETRIEVAL_QUERIES = (
    "lapsed customers who love Christmas decorations",
    "active customers in France who buy kitchenware",
    "big spenders who buy party supplies",
    "customers in Germany",
    "customers who love vintage and floral designs",
    "new customers buying gifts",
    "lapsed customers in the United Kingdom who bought lunch bags",
    "customers who buy candles and lights",
)
RETRIEVAL_REPEATS = 3
RETRIEVAL_LIMIT = 200
SCORE_CUSTOMERS = 10_000
SCORE_PRODUCTS = 10
SCORE_TOP_K = 10
SHARD_SIZE = 500
RAY_WORKERS = 2
_MB = 2**20


def _rss_mb(markers: tuple[str, ...]) -> dict[str, Any]:
    """Sum the resident memory of the processes whose command line contains one of ``markers`` (from /proc)."""
    total, count = 0, 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (proc / "status").read_text()
        except OSError:
            continue
        if any(m in cmd for m in markers):
            rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            total, count = total + rss * 1024, count + 1
    return {"rss_mb": round(total / _MB, 1), "processes": count}


def _peak_rss_mb() -> float:
    """Return this process's peak resident memory (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _source(settings: Settings) -> tuple[Any, PortraitStore, SourcePortraits]:
    shop = load_shop(settings, SOURCE_SHOP)
    store = open_portrait_store(settings, shop)
    return shop, store, SourcePortraits.from_collection(store.collection, SOURCE_SHOP)


def ingest(settings: Settings, sizes: list[int], console: Console | None = None, chroma_path: Path | None = None
           ) -> dict[str, Any]:
    """Ingest every size's replicas into its store (only what is missing) and report each on its own.

    ``chroma_path``: the Chroma server's data folder (a server on this machine), to report store sizes on disk.
    """
    _, real_store, source = _source(settings)
    out: dict[str, Any] = {}
    for size in sizes:
        label = size_label(size)
        with progress_bar(console, f"ingesting scale test {label}") as progress:
            report = ingest_scale_store(settings, source, size, SEED, progress, real_store, chroma_path)
        out |= {
            f"ingest_seconds_{label}": report.seconds, f"ingest_written_{label}": report.written,
            f"ingest_skipped_{label}": report.skipped, f"ingest_vectors_per_s_{label}": report.vectors_per_s,
            f"store_mb_{label}": report.store_mb, f"store_vector_segment_mb_{label}": report.vector_segment_mb,
            f"store_portraits_{label}": report.size,
        }  # fmt: skip
    return out


def _retrieval(profiles: ProfilesTool) -> dict[str, Any]:
    for text in RETRIEVAL_QUERIES[:2]:  # warm-up: the query encoder and the mirror's column caches
        profiles.retrieve(AudienceQuery(text=text, limit=RETRIEVAL_LIMIT))
    seconds = []
    for _ in range(RETRIEVAL_REPEATS):
        for text in RETRIEVAL_QUERIES:
            start = time.perf_counter()
            profiles.retrieve(AudienceQuery(text=text, limit=RETRIEVAL_LIMIT))
            seconds.append(time.perf_counter() - start)
    return {"p50_ms": round(float(np.percentile(seconds, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 1), "queries": len(seconds)}


def _scoring(settings: Settings, effect: PurchaseEffect, tool: RecommendTool, sources: list[str],
             console: Console | None) -> dict[str, Any]:
    """Score replicas (each as its source customer, every row computed) locally and on Ray; compare the tables."""
    products = effect.recent_invoices.sort_values(ascending=False, kind="stable").index[:SCORE_PRODUCTS]
    products = products.astype(str).tolist()
    with_orders = set(effect.customer_ids)
    buyers = [c for c in sources if c in with_orders]
    known = [c for c, r in zip(sources, tool.matrix.rows(sources), strict=True) if r >= 0]

    def jobs(scorer: Any) -> tuple[dict[str, float], dict[str, Any]]:
        seconds, tables = {}, {}
        with progress_bar(console, f"propensity on {scorer.name}") as progress:
            start = time.perf_counter()
            tables["propensity"] = score_propensity(scorer, effect, products, buyers, progress)
            seconds["propensity"] = time.perf_counter() - start
        with progress_bar(console, f"recommendations on {scorer.name}") as progress:
            start = time.perf_counter()
            tables["recommendations"] = score_recommendations(scorer, tool, SCORE_TOP_K, known, progress)
            seconds["recommendations"] = time.perf_counter() - start
        return seconds, tables

    local_seconds, local_tables = jobs(LocalScorer(SHARD_SIZE))
    ray = RayScorer(settings.ray_address, num_cpus=RAY_WORKERS, shard_size=SHARD_SIZE)
    try:
        start = time.perf_counter()
        workers = ray.workers()
        score_propensity(ray, effect, products[:1], buyers[: SHARD_SIZE * workers])  # warm the workers
        startup = time.perf_counter() - start
        ray_seconds, ray_tables = jobs(ray)
        ray_rss = _rss_mb(("ray::", "raylet", "gcs_server", "ray/_private", "ray/dashboard"))
    finally:
        ray.close()
    local_total, ray_total = sum(local_seconds.values()), sum(ray_seconds.values())
    customers = len(sources)
    return {
        "customers": customers, "products": len(products), "ray_workers": workers,
        "ray_startup_seconds": round(startup, 2),
        "local_seconds": {k: round(v, 2) for k, v in local_seconds.items()},
        "ray_seconds": {k: round(v, 2) for k, v in ray_seconds.items()},
        "customers_per_s_local": round(customers / local_total, 1),
        "customers_per_s_ray": round(customers / ray_total, 1),
        "ray_speedup": round(local_total / ray_total, 3),
        **engines_agree(local_tables, ray_tables),
        "ray_processes": ray_rss,
    }  # fmt: skip


def _plan(tools: PlannerTools, settings: Settings, vocabulary: dict[str, list[str]], label: str
          ) -> tuple[CampaignPlan | None, float, str]:
    """Plan the Christmas brief on the scale shop; return the plan (None on an LLM failure), seconds and why."""
    brief = load_brief(BRIEF).model_copy(update={
        "shop": tools.shop.name, "name": f"Scale test {label}: Christmas gifts for lapsed buyers"})
    brief = check_against_shop(brief, vocabulary)
    with tempfile.TemporaryDirectory() as audiences:
        start = time.perf_counter()
        try:
            planner = Planner(dataclasses.replace(tools, audience_dir=Path(audiences)),
                              concurrency=settings.llm_concurrency, seed=settings.seed)
            return planner.run(brief), time.perf_counter() - start, ""
        except LLMError as exc:  # keep what was measured before the LLM failed
            return None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"


def measure_size(settings: Settings, size: int, console: Console | None = None, scoring: bool = True
                 ) -> dict[str, Any]:
    """Measure one size in this process (call it in a fresh process: peak RSS is the process's).

    The size's store must be ingested first (:func:`ingest`). ``scoring`` False skips the batch-scoring
    comparison (``--no-scoring``: e.g. to measure the plan again on a machine where Ray is short of memory).
    """
    label = size_label(size)
    started = time.perf_counter()
    failure = ""
    shop, _, source = _source(settings)
    effect = PurchaseEffect.load_or_train(shop, settings)
    recommend = RecommendTool.fit(shop, settings)
    headlines = headline_ctr_model(settings)
    models_seconds = time.perf_counter() - started

    start = time.perf_counter()
    replicas = replica_table(source, SEED, size)
    scale = build_scale_shop(shop, replicas, scale_shop_name(SOURCE_SHOP, size))
    shop_seconds = time.perf_counter() - start
    store = open_scale_store(settings, SOURCE_SHOP, size)
    if store.count() != size:
        raise RuntimeError(f"the scale store {label} holds {store.count()} of {size} portraits: ingest it first")
    start = time.perf_counter()
    store.index(console)
    mirror_seconds = time.perf_counter() - start
    profiles = ProfilesTool(store)
    retrieval = _retrieval(profiles)

    sample = replicas["source_id"].head(SCORE_CUSTOMERS).astype(str).tolist()
    scores = _scoring(settings, effect, recommend, sample, console) if scoring else "not measured (--no-scoring)"

    url = settings.effective_llm_url
    plan, plan_seconds = None, 0.0
    if probe(url) is None:  # never start a server here: the machine's shared one is used (`campaign llm serve`)
        failure = f"no LLM server answers at {url}: start one with `campaign llm serve`"
    else:
        tools = PlannerTools(
            shop=scale.shop, profiles=profiles, recommend=ScaleRecommend.for_replicas(recommend, replicas),
            effect=ScaleEffect.for_replicas(effect, replicas, scale.label),
            copy=CopyTool(OpenAIBackend.from_settings(settings), retries=settings.llm_validation_retries,
                          temperature=settings.llm_temperature, seed=settings.seed),
            predict_effect=functools.partial(predict_effect, headlines=headlines, settings=settings),
            scorer=LocalScorer(SHARD_SIZE),
        )  # fmt: skip
        if console is not None:
            console.print(f"bench scale {label}: planning with the LLM at {url} …", highlight=False)
        plan, plan_seconds, failure = _plan(tools, settings, store.vocabulary(), label)
    measured = {
        f"peak_rss_mb_{label}": _peak_rss_mb(),
        f"mirror_load_seconds_{label}": round(mirror_seconds, 1),
        f"scale_shop_build_seconds_{label}": round(shop_seconds, 1),
        f"matrix_nnz_{label}": int(scale.matrix.nnz),
        f"summary_events_{label}": len(scale.shop.interactions),
        f"real_models_load_seconds_{label}": round(models_seconds, 1),
        f"retrieval_p95_ms_{label}": retrieval["p95_ms"],
        f"retrieval_p50_ms_{label}": retrieval["p50_ms"],
        f"scoring_{label}": scores,
        f"vllm_processes_{label}": _rss_mb(("vllm", "VLLM")),
        f"chroma_{label}": _rss_mb(("chroma run",)) if settings.chroma_url else "embedded in the planning process",
        f"worker_seconds_{label}": round(time.perf_counter() - started, 1),
    }
    if plan is None or plan.totals is None:
        return {f"plan_error_{label}": failure, f"plan_failed_after_seconds_{label}": round(plan_seconds, 1),
                **measured}
    totals = plan.totals
    return {
        f"plan_seconds_{label}": round(plan_seconds, 1),
        f"llm_calls_{label}": totals.llm_calls,
        f"plan_llm_seconds_{label}": round(totals.llm_time_s, 1),
        f"plan_non_llm_seconds_{label}": round(totals.other_time_s, 1),
        f"plan_audience_{label}": plan.audience.size,
        f"plan_segments_{label}": len(plan.segments),
        f"plan_planned_sends_{label}": plan.launch.planned_sends if plan.launch else 0,
        f"plan_copy_from_llm_{label}": totals.copy_from_llm,
        f"plan_status_{label}": plan.status,
        f"plan_step_seconds_{label}": _step_seconds(plan.trace),
        **measured,
    }


def _step_seconds(trace: list[TraceStep]) -> dict[str, float]:
    """Wall time of each plan step (LLM time included), so growth with the audience can be traced to a step."""
    seconds: dict[str, float] = {}
    for step in trace:
        seconds[step.step] = seconds.get(step.step, 0.0) + step.duration_s
    return {name: round(total, 1) for name, total in seconds.items()}


def run(settings: Settings, console: Console | None = None, sizes: str = ",".join(SIZES),
        chroma_path: Path | None = None) -> dict[str, Any]:
    """Ingest each size, then measure each in its own worker process; return a JSON-ready dict.

    Args:
        settings: Project settings (LLM server, Chroma server, Ray address, home).
        console: Optional console for status lines and progress bars.
        sizes: Comma-separated sizes, e.g. ``10k,100k,1m``.
        chroma_path: With a Chroma server on this machine, its data folder (``chroma run --path``): store sizes
            are read from it. Without it a server's store sizes are reported as null.
    """
    started = time.perf_counter()
    counts = [parse_size(s) for s in sizes.split(",") if s.strip()]
    out: dict[str, Any] = {
        "data": f"{SCALE_LABEL}: replicas of the real {SOURCE_SHOP} shop's customers (UCI Online Retail), perturbed "
                "(new ids, history shifted 0-60 days, spend jittered, embeddings perturbed); the real shop's fitted "
                "models score each replica as its source customer",
        "sizes": [size_label(c) for c in counts], "seed": SEED, "cpus": os.cpu_count(),
        "load_average_1m_before": round(os.getloadavg()[0], 2),
    }  # fmt: skip
    start = time.perf_counter()
    out |= ingest(settings, counts, console, chroma_path)
    out["ingest_seconds_total"] = round(time.perf_counter() - start, 1)
    for count in counts:
        label = size_label(count)
        if console is not None:
            console.print(f"bench scale {label}: measuring in a worker process …", highlight=False)
        done = subprocess.run([sys.executable, "-m", "eval.bench_scale", "--worker", label],
                              stdout=subprocess.PIPE, check=False, text=True)  # fmt: skip
        if done.returncode != 0:
            out[f"error_{label}"] = f"worker exited with {done.returncode} (see its stderr)"
            continue
        out |= json.loads(done.stdout)
    scoring = out.get(f"scoring_{size_label(counts[0])}") if counts else None
    if isinstance(scoring, dict):
        out["ray_speedup"] = scoring["ray_speedup"]
        out["ray_matches_local"] = all(isinstance(out.get(f"scoring_{size_label(c)}"), dict)
                                       and out[f"scoring_{size_label(c)}"]["ray_matches_local"] for c in counts)
    calls = {size_label(c): out.get(f"llm_calls_{size_label(c)}") for c in counts}
    out["llm_calls_equal"] = len({v for v in calls.values() if v is not None}) == 1 and None not in calls.values()
    out["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def main() -> None:
    """Entry point: the whole benchmark, or one size's worker (``--worker 1m``, JSON on stdout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--worker", default=None)
    parser.add_argument("--no-scoring", action="store_true")
    parser.add_argument("--chroma-path", type=Path, default=None)
    args = parser.parse_args()
    console = Console(stderr=True)
    settings = Settings()
    if args.worker:
        with contextlib.redirect_stdout(sys.stderr):
            result = measure_size(settings, parse_size(args.worker), console, scoring=not args.no_scoring)
        print(json.dumps(result, default=str))
        return
    print(json.dumps(run(settings, console, args.sizes, args.chroma_path), indent=2, default=str))


if __name__ == "__main__":
    main()
