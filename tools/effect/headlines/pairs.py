"""Pairs files of headlines (which of two won its A/B test) and pair accuracies of a model's scores.

Format (HypoGeniC's "headline popularity" task, also what shops export from their own tests): a JSON list of
records ``{"headline_1": …, "headline_2": …, "label": "Headline 1 has more clicks than Headline 2."}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


class HeadlinePairsError(ValueError):
    """A pairs file is unreadable or malformed; the message names the record."""


def read_pairs(path: Path | str) -> tuple[list[str], list[str], np.ndarray]:
    """Read a pairs file (records with ``headline_1``, ``headline_2``, ``label``); labels become 1 or 2.

    Raises:
        HeadlinePairsError: Not a JSON list of such records, or a label names neither headline.
    """
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HeadlinePairsError(f"{path}: cannot read a JSON list of pairs ({exc})") from exc
    if not isinstance(records, list) or not records:
        raise HeadlinePairsError(f"{path}: expected a non-empty JSON list of pair records")
    first, second, labels = [], [], []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not {"headline_1", "headline_2", "label"} <= rec.keys():
            raise HeadlinePairsError(f"{path}: record {i} lacks headline_1, headline_2 or label")
        label = str(rec["label"]).strip().lower()
        if not label.startswith(("headline 1", "headline 2")):
            raise HeadlinePairsError(f"{path}: record {i} label {rec['label']!r} names neither headline")
        first.append(str(rec["headline_1"]))
        second.append(str(rec["headline_2"]))
        labels.append(1 if label.startswith("headline 1") else 2)
    return first, second, np.array(labels)


def pair_accuracy(score_1: np.ndarray, score_2: np.ndarray, labels: np.ndarray) -> float:
    """Return the share of pairs where the higher score belongs to the labelled winner (ties count as wrong)."""
    predicted = np.where(score_1 > score_2, 1, np.where(score_2 > score_1, 2, 0))
    return float(np.mean(predicted == labels))


def within_test_pair_accuracy(arms: pd.DataFrame, score: np.ndarray, min_z: float = 0.0) -> tuple[float, int]:
    """Return accuracy over pairs of arms of one test with different CTR and |two-proportion z| ≥ ``min_z``."""
    right, total = 0, 0
    frame = arms.assign(score=score)
    for _, test in frame.groupby("clickability_test_id"):
        n, c, s = (test[k].to_numpy(float) for k in ("impressions", "clicks", "score"))
        i, j = np.triu_indices(len(test), k=1)
        rate, pooled = c / n, (c[i] + c[j]) / (n[i] + n[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (rate[i] - rate[j]) / np.sqrt(pooled * (1 - pooled) * (1 / n[i] + 1 / n[j]))
        keep = (rate[i] != rate[j]) & (np.nan_to_num(np.abs(z)) >= min_z)
        right += int(((s[i] > s[j]) == (rate[i] > rate[j]))[keep].sum())
        total += int(keep.sum())
    return (right / total if total else float("nan")), total
