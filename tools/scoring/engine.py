"""Where batch scoring runs: shards of customers, scored in this process or as Ray tasks.

A scoring job is a shard function ``fn(model, customer_ids) -> pandas.DataFrame``: a pure function of a fitted
model and a list of customers (:mod:`tools.scoring.propensity`, :mod:`tools.scoring.recommendations`). A
:class:`BatchScorer` cuts the customers into shards of ``shard_size``, runs the function on each and concatenates
the results in shard order, so both engines give the same table:

* :class:`LocalScorer` runs the shards one after the other in this process;
* :class:`RayScorer` puts the model in Ray's object store once (``ray.put``) and runs one Ray task per shard on the
  cluster at ``ray_address``, or on a local Ray started on loopback with ``num_cpus`` CPUs.

:func:`scorer_from_settings` picks one from ``CAMPAIGN_ENGINE`` and ``CAMPAIGN_RAY_ADDRESS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pandas as pd

from agent.settings import Settings

DEFAULT_SHARD_SIZE = 500
LOCAL_RAY_CPUS = 2

#: Scores one shard: (fitted model, customer ids) → one table (rows in the order of the ids).
ShardFunction = Callable[[Any, list[str]], pd.DataFrame]
#: Told ``(customers done, customers in all)`` as shards finish (e.g. ``agent.progress.progress_bar``'s callback).
Progress = Callable[[int, int], None]


def shards(customer_ids: Sequence[str], shard_size: int) -> list[list[str]]:
    """Cut customer ids into consecutive shards of at most ``shard_size`` (the last may be shorter).

    Raises:
        ValueError: ``shard_size`` is not positive.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be positive, got {shard_size}")
    ids = list(customer_ids)
    return [ids[start : start + shard_size] for start in range(0, len(ids), shard_size)]


class BatchScorer(Protocol):
    """Runs a shard function over every customer and returns the shards' tables concatenated in order."""

    name: str
    shard_size: int

    def run(
        self, fn: ShardFunction, model: Any, customer_ids: Sequence[str], progress: Progress | None = None
    ) -> pd.DataFrame:
        """Score every customer: ``fn(model, shard)`` for each shard, concatenated in shard order."""
        ...

    def workers(self) -> int:
        """Return how many shards can run at the same time."""
        ...

    def close(self) -> None:
        """Release what the scorer started (a local Ray); a no-op otherwise."""
        ...


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


class LocalScorer:
    """Scores the shards one after the other in this process.

    Args:
        shard_size: Customers per shard.
    """

    name = "local"

    def __init__(self, shard_size: int = DEFAULT_SHARD_SIZE) -> None:
        self.shard_size = shard_size

    def run(
        self, fn: ShardFunction, model: Any, customer_ids: Sequence[str], progress: Progress | None = None
    ) -> pd.DataFrame:
        """Score every customer in this process, shard by shard.

        Args:
            fn: The shard function.
            model: The fitted model passed to every shard.
            customer_ids: All customers to score.
            progress: Told (done, total) after each shard.

        Returns:
            The shards' tables, concatenated in shard order.
        """
        parts, done, total = [], 0, len(customer_ids)
        for shard in shards(customer_ids, self.shard_size):
            parts.append(fn(model, shard))
            done += len(shard)
            if progress is not None:
                progress(done, total)
        return _concat(parts)

    def workers(self) -> int:
        """Return 1: shards run one at a time."""
        return 1

    def close(self) -> None:
        """Nothing to release."""


_WORKER_MODEL: dict[str, Any] = {}
"""The model a Ray worker process last read from the object store, by object id (read once per worker, not per
task: unpickling the recommend tool's models takes about 0.4 s)."""


def _run_shard(fn: ShardFunction, boxed_ref: list[Any], shard: list[str]) -> pd.DataFrame:
    """Ray task body: one shard. The model's reference comes in a list so Ray passes it unresolved."""
    import ray

    ref = boxed_ref[0]
    key = ref.hex()
    if key not in _WORKER_MODEL:
        _WORKER_MODEL.clear()
        _WORKER_MODEL[key] = ray.get(ref)
    return fn(_WORKER_MODEL[key], shard)


class RayScorer:
    """Scores the shards as Ray tasks, the model put in the object store once.

    Args:
        address: Ray cluster to join (``ray.init(address=...)``, e.g. ``auto`` or ``ray://head:10001``); None
            starts a local Ray on loopback with ``num_cpus`` CPUs, stopped by :meth:`close`.
        num_cpus: CPUs of the local Ray (each task takes one, so this many shards run at once).
        shard_size: Customers per shard.

    A Ray already initialised in this process is used as it is (and left running by :meth:`close`). Workers of a
    remote cluster must be able to import this project (install it there, or pass a ``runtime_env``).
    """

    name = "ray"

    def __init__(
        self, address: str | None = None, num_cpus: int = LOCAL_RAY_CPUS, shard_size: int = DEFAULT_SHARD_SIZE
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.shard_size = shard_size
        self._started = False

    def _ray(self) -> Any:
        import ray

        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            if self.address is None:
                ray.init(address="local", num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False,
                         _node_ip_address="127.0.0.1", configure_logging=False)  # fmt: skip
            else:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            self._started = True
        return ray

    def run(
        self, fn: ShardFunction, model: Any, customer_ids: Sequence[str], progress: Progress | None = None
    ) -> pd.DataFrame:
        """Score every customer as one Ray task per shard.

        Args:
            fn: The shard function (a module-level function, so workers can import it).
            model: The fitted model, put in the object store once and shared by every task.
            customer_ids: All customers to score.
            progress: Told (done, total) as tasks finish.

        Returns:
            The shards' tables, concatenated in shard order (whatever order the tasks finished in).
        """
        ray = self._ray()
        task = ray.remote(num_cpus=1)(_run_shard)
        model_ref = ray.put(model)
        parts = shards(customer_ids, self.shard_size)
        futures = [task.remote(fn, [model_ref], shard) for shard in parts]
        position = {ref: n for n, ref in enumerate(futures)}
        results: list[pd.DataFrame | None] = [None] * len(futures)
        pending, done, total = list(futures), 0, len(customer_ids)
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                n = position[ref]
                results[n] = ray.get(ref)
                done += len(parts[n])
            if progress is not None:
                progress(done, total)
        return _concat([r for r in results if r is not None])

    def workers(self) -> int:
        """Return the CPUs of the cluster (tasks take one CPU each)."""
        return int(self._ray().cluster_resources().get("CPU", 1))

    def close(self) -> None:
        """Stop the Ray this scorer started (a cluster it joined, or found running, is left alone)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def scorer_from_settings(settings: Settings, shard_size: int = DEFAULT_SHARD_SIZE) -> BatchScorer:
    """Return the scorer the settings choose: ``engine`` local or ray (at ``ray_address``, else a local Ray).

    Args:
        settings: Project settings (``engine``, ``ray_address``).
        shard_size: Customers per shard.

    Returns:
        A :class:`LocalScorer` or :class:`RayScorer`; call its ``close`` when done.
    """
    if settings.engine == "ray":
        return RayScorer(settings.ray_address, shard_size=shard_size)
    return LocalScorer(shard_size)

