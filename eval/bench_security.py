"""``campaign bench security``: schema fuzzing, the prompt-injection suite and fault injection, in one JSON object.

Prints exactly ``{"fuzz_requests", "server_errors", "schema_violations", "injection_cases", "injection_escapes",
"faults", "faults_survived"}`` (the details go to the console). The fuzzing and the fault scenarios run on the real
API with scripted LLMs (:mod:`serve.security_checks`, registered by ``agent.cli`` through
:func:`register_security_checks`: eval may not import serve); the injection suite is
:func:`eval.injection.run_injection_suite` against the scripted model that obeys every instruction it sees (the
worst case). Run ``python -m agent.cli bench security`` (``campaign bench security --json``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from agent.settings import Settings

KEYS = ("fuzz_requests", "server_errors", "schema_violations", "injection_cases", "injection_escapes", "faults",
        "faults_survived")
"""The keys of the printed object, in order."""
SecurityChecks = Callable[[Settings, Console | None], dict[str, Any]]
"""Fuzz the API and run the fault scenarios: fuzz_requests, server_errors, schema_violations, faults,
faults_survived (and details)."""
_CHECKS: list[SecurityChecks] = []


def register_security_checks(checks: SecurityChecks) -> None:
    """Set the API's fuzzing and fault checks (``agent.cli`` registers :func:`serve.security_checks.run_...`)."""
    _CHECKS[:] = [checks]


def run(settings: Settings, console: Console | None = None) -> dict[str, int]:
    """Run every part once and return the seven counts.

    Raises:
        RuntimeError: when no API checks are registered.
    """
    if not _CHECKS:
        raise RuntimeError("no API security checks are registered (agent.cli registers serve.security_checks)")
    start = time.perf_counter()
    api = _CHECKS[0](settings, console)
    from eval.injection import run_injection_suite

    if console is not None:
        console.print("prompt-injection suite (scripted model that obeys every instruction) …", highlight=False)
    injection = run_injection_suite(settings)
    if console is not None:
        console.print(f"injection: {injection.escapes} escapes of {injection.cases} cases; "
                      f"all parts in {time.perf_counter() - start:.0f} s", highlight=False)
    result = {**{k: api[k] for k in ("fuzz_requests", "server_errors", "schema_violations", "faults",
                                     "faults_survived")},
              "injection_cases": injection.cases, "injection_escapes": injection.escapes}
    return {k: int(result[k]) for k in KEYS}
