"""Benchmark adaptive allocation on the real Hillstrom experiment by offline replay (Li et al. 2011).

The Hillstrom e-mail test assigned its customers uniformly at random to three arms (men's e-mail, women's e-mail,
no e-mail), so replaying a policy on its rows (outcome: visit within two weeks) estimates the visits per send the
policy would have earned without bias. Each policy is replayed on the same 50 shuffles of the rows (seeds 0..49);
the interval is the 2.5-97.5 percentile over shuffles, and the Thompson / uniform ratio is taken per shuffle.
Policies: uniform (an even split), Thompson sampling updated between waves of 500 sends, Thompson sampling updated
after every send, and the arm best in hindsight (men's e-mail: a reference no policy can know beforehand).
Run ``python -m eval.bench_allocation`` to print the JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
from rich.console import Console

from agent.settings import Settings
from tools.outcomes import FixedPolicy, ThompsonPolicy, UniformPolicy, compare_policies

DEV_FILE = "hillstrom_dev.csv"
WAVE_SIZE = 500
SHUFFLES = 50
BEST_IN_HINDSIGHT = "Mens E-Mail"


def run(settings: Settings, console: Console | None = None, shuffles: int = SHUFFLES) -> dict[str, Any]:
    """Replay the allocation policies on Hillstrom and return a JSON-ready dict.

    Args:
        settings: Project settings (``shared_data_dir`` holds ``hillstrom_dev.csv``).
        console: Optional console for a status line.
        shuffles: Shuffles of the rows.
    """
    start = time.perf_counter()
    data = pd.read_csv(settings.shared_data_dir / DEV_FILE, usecols=["segment", "visit"])
    log = pd.DataFrame({"arm": data["segment"].astype(str), "reward": data["visit"].astype(int)})
    arms = sorted(log["arm"].unique())
    n = len(arms)
    if console is not None:
        console.print(f"bench allocation: replaying 4 policies on {shuffles} shuffles of {len(log):,} Hillstrom rows …",
                      highlight=False)
    result = compare_policies(
        log, arms,
        {
            "uniform": lambda s: UniformPolicy(n, s),
            f"thompson_waves_of_{WAVE_SIZE}": lambda s: ThompsonPolicy(n, s, wave_size=WAVE_SIZE),
            "thompson_per_send": lambda s: ThompsonPolicy(n, s, wave_size=1),
            "best_arm_in_hindsight": lambda s: FixedPolicy(arms.index(BEST_IN_HINDSIGHT)),
        },
        ratios=[(f"thompson_waves_of_{WAVE_SIZE}", "uniform"), ("thompson_per_send", "uniform")],
        shuffles=shuffles, seed=0,
    )
    return {
        "data": f"{DEV_FILE} (Hillstrom e-mail experiment, uniform random assignment over {n} arms)",
        "outcome": "visit", "method": "replay (Li et al. 2011): reward per accepted send; 95% interval = 2.5-97.5 "
                                      "percentiles over shuffles",
        "arms": arms, "wave_size": WAVE_SIZE,
        **result.model_dump(), "seconds": round(time.perf_counter() - start, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(Settings()), indent=2, default=str))
