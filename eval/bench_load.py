"""``campaign bench load``: 50 concurrent clients for 60 s against the API's plan and read routes (scripted LLM).

The API runs in a child process on loopback (:func:`serve.load.run_load`, registered by ``agent.cli`` through
:func:`register_load_run`: eval may not import serve), on the MovieLens shop's real tools with a scripted copy
LLM, each client with its own key. Prints requests, errors (anything but 200, 202 and an intended 429), 429s,
p50/p99 latency overall and per route, plans accepted and ended, and the most plans seen queued. The per-key
rate limit is lifted for the run (``CAMPAIGN_API_RATE_LIMIT_PER_MINUTE`` in the environment overrides it), so the
figures measure the server, not the limiter. ``CAMPAIGN_LOAD_CLIENTS`` and ``CAMPAIGN_LOAD_SECONDS`` change the
defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from rich.console import Console

from agent.settings import Settings

CLIENTS = 50
SECONDS = 60.0
LoadRun = Callable[[Settings, Console | None, int, float], dict[str, Any]]
"""Run (settings, console, clients, seconds) against a child API server and return the measurements."""
_RUN: list[LoadRun] = []


def register_load_run(run_load: LoadRun) -> None:
    """Set how the load test runs (``agent.cli`` registers :func:`serve.load.run_load`)."""
    _RUN[:] = [run_load]


def run(settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Run the load test once and return its measurements.

    Raises:
        RuntimeError: when no load run is registered.
    """
    if not _RUN:
        raise RuntimeError("no load run is registered (agent.cli registers serve.load.run_load)")
    clients = int(os.environ.get("CAMPAIGN_LOAD_CLIENTS", CLIENTS))
    seconds = float(os.environ.get("CAMPAIGN_LOAD_SECONDS", SECONDS))
    return _RUN[0](settings, console, clients, seconds)
