"""Freed heap goes back to the operating system (glibc's malloc_trim)."""

from __future__ import annotations

import sys

import pytest

from tools.portraits.heap import return_freed_memory


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and needs glibc")
def test_memory_freed_between_live_blocks_is_returned() -> None:
    # Dicts of 70 keys are C-heap blocks of a few kB, as a page of portrait metadata is; keeping one in 50 alive
    # leaves the freed ones between live blocks, where glibc keeps them resident until trimmed.
    blocks = [{f"k{n}": n for n in range(70)} for _ in range(40_000)]
    kept = blocks[::50]
    del blocks
    before = _resident_mb()
    assert return_freed_memory()
    assert _resident_mb() < before - 40 and len(kept) == 800
