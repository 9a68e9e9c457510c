"""Benchmark the effect models on real held-out data, beside the published numbers, in one run.

Sections: ``ope`` (zr-obp's OPE experiment on the Open Bandit sample, published configuration and a CV-tuned
reward model), ``uplift`` (Hillstrom policy value by IPW on a held-out split), ``headlines`` (Upworthy pair
accuracy on ``headline_pairs_val.json`` with overlapping tests removed, and GroupKFold accuracy), ``obd_ctr``
(time-split CTR models with calibration) and ``click_model`` (the shop's MovieLens-derived click model), each
with its wall time. Run ``python -m eval.bench_effect`` to print the JSON.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from agent.settings import Settings
from tools.effect.bandit.ctr import train_obd_ctr
from tools.effect.bandit.ope_benchmark import format_table, obd_ope_report
from tools.effect.effect_tool import ClickModel
from tools.effect.headlines.training import DEFAULT_FINE_TUNE, PUBLISHED, VAL_FILE, headline_ctr_model, score_pairs_file
from tools.effect.uplift.model import DEV_FILE, PUBLISHED_VISIT_RATE, evaluate_uplift_file
from tools.shop.shop_data import load_demo_shop

UPLIFT_COSTS = (0.0, 0.02)  # cost of one e-mail in visits


def _timed(section: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    result = section()
    return {**result, "seconds": round(time.perf_counter() - started, 1)}


def run(settings: Settings, console: Console | None = None, n_runs: int = 30) -> dict[str, Any]:
    """Run every effect benchmark once and return a JSON-ready dict.

    Args:
        settings: Project settings (data, shared data and model folders).
        console: Optional console for a summary line per section.
        n_runs: Bootstrap runs of the OPE experiment (30 as published).
    """

    def say(text: str) -> None:
        if console is not None:
            console.print(text)

    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}

    out["ope"] = _timed(lambda: obd_ope_report(settings, n_runs=n_runs))
    for config in ("published_configuration", "cv_tuned_reward_model"):
        say(f"OPE ({config}), relative error of BTS's value from random logs:\n{format_table(out['ope'][config])}")
    say(f"OPE best: {out['ope']['best']} (goal ≤ 0.15 met: {out['ope']['goal_met']})")

    def uplift() -> dict[str, Any]:
        by_cost = {str(c): evaluate_uplift_file(settings.shared_data_dir / DEV_FILE, settings, c) for c in UPLIFT_COSTS}
        return {"by_cost_per_send": by_cost, "published_visit_rate_full_data": PUBLISHED_VISIT_RATE}

    out["uplift"] = _timed(uplift)
    for cost, r in out["uplift"]["by_cost_per_send"].items():
        say(f"uplift (cost {cost}): policy {r['policy_value']:.4f} vs mens {r['send_mens']:.4f}, womens "
            f"{r['send_womens']:.4f}, none {r['send_none']:.4f} visits/customer, {r['rows']} held-out rows")

    def headlines() -> dict[str, Any]:
        val = score_pairs_file(settings.shared_data_dir / VAL_FILE, settings)
        tuned = score_pairs_file(settings.shared_data_dir / VAL_FILE, settings, fine_tune=DEFAULT_FINE_TUNE)
        deployed = headline_ctr_model(settings).card
        best = max(val["accuracy"], tuned["accuracy"])
        return {"val_file": val, "val_file_fine_tuned": tuned, "deployed_model_card": deployed,
                "published": PUBLISHED, "goal_accuracy": 0.72, "goal_met": best >= 0.72}  # fmt: skip

    out["headlines"] = _timed(headlines)
    val = out["headlines"]["val_file"]
    say(f"headlines: {val['accuracy']:.3f} on {val['pairs']} val pairs (fine-tuned encoders: "
        f"{out['headlines']['val_file_fine_tuned']['accuracy']:.3f}; {val['excluded_tests']} overlapping tests "
        f"excluded); published {PUBLISHED}")  # fmt: skip

    out["obd_ctr"] = _timed(lambda: train_obd_ctr(settings))
    for name, variants in out["obd_ctr"]["metrics"].items():
        say(f"OBD CTR {name}: " + ", ".join(f"{k} AUC {v['auc']:.3f} ECE(q) {v['ece_quantile']:.4f}"
                                              for k, v in variants.items()))  # fmt: skip

    out["click_model"] = _timed(lambda: ClickModel.load_or_train(load_demo_shop(settings), settings).card)
    say(f"click model (MovieLens-derived): {out['click_model']['metrics']}")
    return out


if __name__ == "__main__":
    print(json.dumps(run(Settings(), Console(stderr=True)), indent=1, default=float))
