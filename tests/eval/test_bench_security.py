"""campaign bench security: one JSON object with exactly the seven keys, the API part registered by agent.cli."""

from __future__ import annotations

import sys
import types

import pytest

import eval.bench_security as bench
from agent.settings import Settings


def test_the_object_has_exactly_the_seven_keys(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    api = {"fuzz_requests": 1200, "server_errors": 0, "schema_violations": 1, "faults": 8, "faults_survived": 7,
           "details": {"fuzz": {}}}
    monkeypatch.setattr(bench, "_CHECKS", [lambda s, c: api])
    injection = types.ModuleType("eval.injection")  # the suite's report: its cases and escapes
    injection.run_injection_suite = lambda s: types.SimpleNamespace(cases=61, escapes=2)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "eval.injection", injection)
    assert bench.run(settings) == {"fuzz_requests": 1200, "server_errors": 0, "schema_violations": 1,
                                   "injection_cases": 61, "injection_escapes": 2, "faults": 8, "faults_survived": 7}
    assert list(bench.run(settings)) == list(bench.KEYS)


def test_without_the_api_checks_it_says_so(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setattr(bench, "_CHECKS", [])
    with pytest.raises(RuntimeError, match="registered"):
        bench.run(settings)


def test_agent_cli_registers_the_api_checks_and_the_load_run() -> None:
    import agent.cli
    import eval.bench_load

    assert [agent.cli._security_checks] == bench._CHECKS
    assert [agent.cli._load_run] == eval.bench_load._RUN
