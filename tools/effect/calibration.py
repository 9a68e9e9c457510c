"""Calibration of predicted probabilities: expected calibration error and reliability plots (PNG).

With click rates well under 1%, equal-width bins put every prediction into the first bin, so
:func:`calibration_error` also offers equal-mass (quantile) bins, which resolve the low range.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def calibration_error(y_true: np.ndarray, p: np.ndarray, n_bins: int = 10, strategy: str = "uniform") -> float:
    """Return Σ_bins (n_bin / N)·|mean(y) − mean(p)|.

    Args:
        y_true: Outcomes 0/1.
        p: Predicted probabilities in [0, 1].
        n_bins: Number of bins.
        strategy: ``uniform`` (equal-width bins on [0, 1]) or ``quantile`` (bins of equal size, by rank of ``p``).
    """
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.size == 0:
        raise ValueError("y_true and p must be non-empty and of equal shape")
    if strategy == "uniform":
        bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    elif strategy == "quantile":
        bins = np.minimum(np.argsort(np.argsort(p, kind="stable"), kind="stable") * n_bins // p.size, n_bins - 1)
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    gap = np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins)
    return float(np.abs(gap).sum() / y.size)


def reliability_points(y_true: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Return (mean predicted, observed rate) per equal-mass bin."""
    order = np.argsort(p, kind="stable")
    chunks = np.array_split(order, n_bins)
    return (np.array([np.mean(p[c]) for c in chunks if c.size]),
            np.array([np.mean(y_true[c]) for c in chunks if c.size]))  # fmt: skip


def save_reliability_plot(
    y_true: np.ndarray, predictions: Mapping[str, np.ndarray], path: Path, title: str, n_bins: int = 10
) -> Path:
    """Draw observed vs predicted rate per equal-mass bin for each model and save a PNG (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for name, p in predictions.items():
        x, y = reliability_points(np.asarray(y_true, float), np.asarray(p, float), n_bins)
        ax.plot(x, y, marker="o", label=name)
        top = max(top, float(np.max(x)), float(np.max(y)))
    top *= 1.1
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted click probability (equal-mass bins)")
    ax.set_ylabel("observed click rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
