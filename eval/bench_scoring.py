"""Benchmark batch scoring of every customer of the retail shop, in this process and on Ray with 2 workers.

Real data: the retail shop (UCI Online Retail dev file). Two jobs over every customer with orders, cut in shards of
:data:`SHARD_SIZE`: propensity (the purchase ranker's P(buy in the next 30 days) for the :data:`PRODUCTS` products
with most invoices in the last 30 days) and recommendations (each customer's top 10 by the recommend tool's model).
The local path runs the shards one after the other in this process; the Ray path runs them as Ray tasks on a local
Ray started on loopback with 2 CPUs (or the cluster at ``CAMPAIGN_RAY_ADDRESS``), the models put in the object store
once. Ray's start and its workers' first import are timed apart (``ray_startup_seconds``), then each engine scores
the same jobs :data:`REPEATS` times and the best wall time counts. ``ray_matches_local`` is True when both tables of
both engines agree (``tools.scoring.tables_agree``: ids and ranks equal, scores within 1e-12; a Ray worker's single
BLAS thread may round a score's last bit differently), ``ray_max_abs_diff`` the largest score gap. The machine's
1-minute load average before and after is reported: other processes on the same cores slow both engines, Ray's
parallel shards the most. Run ``python -m eval.bench_scoring`` to print the JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from rich.console import Console

from agent.progress import progress_bar
from agent.settings import Settings
from tools.effect import PurchaseEffect
from tools.recommend import RecommendTool
from tools.scoring import BatchScorer, LocalScorer, RayScorer, engines_agree, score_propensity, score_recommendations
from tools.shop import load_shop

SHOP = "retail"
PRODUCTS = 20
TOP_K = 10
SHARD_SIZE = 250
REPEATS = 2
RAY_WORKERS = 2


def _jobs(
    effect: PurchaseEffect, tool: RecommendTool, products: list[str]
) -> dict[str, Callable[[BatchScorer, Callable[[int, int], None]], pd.DataFrame]]:
    return {
        "propensity": lambda scorer, progress: score_propensity(scorer, effect, products, progress=progress),
        "recommendations": lambda scorer, progress: score_recommendations(scorer, tool, TOP_K, progress=progress),
    }


def _measure(
    scorer: BatchScorer, jobs: dict[str, Any], console: Console | None
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Return the best wall time of each job over :data:`REPEATS` runs, and the tables of the last run."""
    seconds: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    for name, job in jobs.items():
        best = float("inf")
        for repeat in range(REPEATS):
            with progress_bar(console, f"{name} on {scorer.name} ({repeat + 1}/{REPEATS})") as progress:
                start = time.perf_counter()
                tables[name] = job(scorer, progress)
                best = min(best, time.perf_counter() - start)
        seconds[name] = best
    return seconds, tables


def run(settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Score every retail customer locally and on Ray; return a JSON-ready dict.

    Args:
        settings: Project settings (``ray_address``: join that cluster instead of starting a local Ray).
        console: Optional console for status lines and progress bars.
    """
    started = time.perf_counter()
    shop = load_shop(settings, SHOP)
    if console is not None:
        console.print("bench scoring: loading the purchase ranker and fitting the recommend tool …", highlight=False)
    effect = PurchaseEffect.load_or_train(shop, settings)
    tool = RecommendTool.fit(shop, settings)
    products = effect.recent_invoices.sort_values(ascending=False, kind="stable").index[:PRODUCTS].astype(str).tolist()
    jobs = _jobs(effect, tool, products)
    customers = len(effect.customer_ids)
    load_before = os.getloadavg()[0]
    local_seconds, local_tables = _measure(LocalScorer(SHARD_SIZE), jobs, console)
    ray = RayScorer(settings.ray_address, num_cpus=RAY_WORKERS, shard_size=SHARD_SIZE)
    try:
        start = time.perf_counter()
        workers = ray.workers()  # starts (or joins) Ray
        score_propensity(ray, effect, products[:1], list(effect.customer_ids[: SHARD_SIZE * workers]))  # warm workers
        startup = time.perf_counter() - start
        ray_seconds, ray_tables = _measure(ray, jobs, console)
    finally:
        ray.close()
    agreement = engines_agree(local_tables, ray_tables)
    local_total, ray_total = sum(local_seconds.values()), sum(ray_seconds.values())
    return {
        "data": f"{SHOP} shop (UCI Online Retail dev file): every customer with orders",
        "customers": customers,
        "products_scored": len(products),
        "top_k": TOP_K,
        "shard_size": SHARD_SIZE,
        "cpus": os.cpu_count(),
        "ray_address": settings.ray_address or f"local Ray on loopback, {RAY_WORKERS} CPUs",
        "ray_workers": workers,
        "ray_startup_seconds": round(startup, 2),
        "local_seconds": {k: round(v, 3) for k, v in local_seconds.items()},
        "ray_seconds": {k: round(v, 3) for k, v in ray_seconds.items()},
        "local_customers_per_s": {k: round(customers / v, 1) for k, v in local_seconds.items()},
        "ray_customers_per_s": {k: round(customers / v, 1) for k, v in ray_seconds.items()},
        "customers_per_s_local": round(customers / local_total, 1),
        "customers_per_s_ray": round(customers / ray_total, 1),
        "ray_speedup": round(local_total / ray_total, 3),
        **agreement,
        "timing": f"best of {REPEATS} runs per job and engine; Ray start and worker warm-up excluded "
                  "(ray_startup_seconds)",
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(Settings(), Console(stderr=True)), indent=2, default=str))
