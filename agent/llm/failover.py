"""Failover between several OpenAI-compatible LLM servers.

A :class:`ServerPool` holds the base URLs of ``CAMPAIGN_LLM_BASE_URLS`` (in production, vLLM replicas on GPU
hosts). Each request starts at the next server in round-robin order; a server that fails with a connection error,
a timeout or a 5xx answer is marked down for a cool-off period and the request moves on to the next one. Servers
that are down are still tried, last, when every server is down, so a recovered server is found without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)


class ServerPool:
    """Round-robin order and down-marking of several LLM server base URLs (thread-safe).

    Args:
        urls: Base URLs ending in ``/v1``, in the preferred order; duplicates are dropped.
        cooloff_s: Seconds a failed server is tried only after the healthy ones.
        clock: Monotonic clock (injectable for tests).

    Raises:
        ValueError: when ``urls`` is empty.
    """

    def __init__(self, urls: Sequence[str], cooloff_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.urls = list(dict.fromkeys(u.strip() for u in urls if u.strip()))
        if not self.urls:
            raise ValueError("a server pool needs at least one LLM base URL")
        self.cooloff_s = cooloff_s
        self._clock = clock
        self._down_until: dict[str, float] = {}
        self._next = 0
        self._lock = threading.Lock()

    def order(self) -> list[str]:
        """Return the servers to try for one request: healthy ones round-robin first, then those cooling off.

        Returns:
            Every URL once; consecutive calls start at consecutive healthy servers.
        """
        with self._lock:
            now = self._clock()
            start = self._next
            self._next = (self._next + 1) % len(self.urls)
            rotated = self.urls[start:] + self.urls[:start]
            healthy = [u for u in rotated if self._down_until.get(u, 0.0) <= now]
            down = sorted((u for u in rotated if u not in healthy), key=lambda u: self._down_until[u])
            return healthy + down

    def mark_down(self, url: str, reason: str) -> None:
        """Skip ``url`` (try it only after the healthy servers) for the cool-off period.

        Args:
            url: The server that failed.
            reason: Why, for the log.
        """
        with self._lock:
            self._down_until[url] = self._clock() + self.cooloff_s
        logger.warning("LLM server %s marked down for %.0f s: %s", url, self.cooloff_s, reason)

    def mark_up(self, url: str) -> None:
        """Record that ``url`` answered (clears a down mark)."""
        with self._lock:
            self._down_until.pop(url, None)

    def is_down(self, url: str) -> bool:
        """Return whether ``url`` is cooling off after a failure."""
        with self._lock:
            return self._down_until.get(url, 0.0) > self._clock()
