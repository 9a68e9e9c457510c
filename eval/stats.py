"""Bootstrap intervals for suite aggregates and paired configuration differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

N_RESAMPLES = 2000
LEVEL = 0.95


class Interval(BaseModel):
    """A mean with a percentile-bootstrap interval over cases.

    Attributes:
        mean: Mean of the values.
        low: Lower bound of the interval.
        high: Upper bound of the interval.
        n: Number of values (cases).
        level: Coverage of the interval, e.g. 0.95.
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = LEVEL

    def excludes_zero(self) -> bool:
        """True when the whole interval is above or below zero."""
        return self.low > 0 or self.high < 0

    def text(self, digits: int = 3) -> str:
        """Return e.g. "+0.120 [+0.050, +0.190]"."""
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def bootstrap_mean(values: Sequence[float], seed: int = 0, resamples: int = N_RESAMPLES,
                   level: float = LEVEL) -> Interval | None:
    """Return the mean of ``values`` with a percentile-bootstrap interval (None for no values).

    Cases are resampled with replacement ``resamples`` times with a seeded generator, so the interval
    is the same on every run.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(mean=float(data.mean()), low=float(low), high=float(high), n=int(data.size), level=level)


def paired_difference(a: Sequence[float], b: Sequence[float], seed: int = 0) -> Interval | None:
    """Return mean(b − a) over paired cases with a bootstrap interval (resampling cases, not values).

    Raises:
        ValueError: when ``a`` and ``b`` differ in length.
    """
    if len(a) != len(b):
        raise ValueError(f"paired values differ in length: {len(a)} and {len(b)}")
    return bootstrap_mean([y - x for x, y in zip(a, b, strict=True)], seed=seed)
