"""Benchmark the retail shop's purchase models on the validation month carved from the dev data (2011-10-09..11-08).

Trained only on lines before 2011-10-09; prints ``customers``, ``buyers``, ``auc_buy``, the ranking metrics at 10
and ``revenue_mae``, beside the personal-frequency and popularity baselines and purchase-frequency-alone AUC, with
the wall time. ``auc_by_month`` scores the validation month and the five before it, each with a classifier trained
only on the months before it, beside purchase frequency alone: how much the AUC varies with the month.
Run ``python -m eval.bench_shop`` to print the JSON.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from agent.settings import Settings
from tools.effect.purchases import bench_shop


def run(settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Run the shop benchmark once and return a JSON-ready dict.

    Args:
        settings: Project settings.
        console: Optional console for a status line.
    """
    if console is not None:
        console.print("bench shop: training on the dev data before 2011-10-09 …", highlight=False)
    return bench_shop(settings)


if __name__ == "__main__":
    print(json.dumps(run(Settings()), indent=2, default=str))
