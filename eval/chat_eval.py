"""``campaign eval chat SUITE.yaml``: marketer questions through the real chat service, scored.

A chat suite is YAML::

    cases:
      - id: lapsed-scifi-films
        shop: movielens           # any shop name the project knows
        language: en              # en | zh: the language the answer must be in
        message: "Which films should we send lapsed sci-fi fans?"
        expect_tool: recommend_products   # the tool that must be called first (or in the chain); none: no tool
        expect_args: {lifecycle: [lapsed], genres: [Sci-Fi]}   # optional: each key present, containing these

Every case is one turn of the real chat service (a fresh session) on the real shop tools, with the
configuration's backend (a scripted stand-in or a model server, see :mod:`eval.backends`). The eval layer does
not import ``serve``: the runner (:class:`ChatRunner`, ``serve.chat.ChatTurnRunner``) is registered by the CLI
(:func:`register_chat_runner`). A plan the chat creates is queued in a temporary database and never run.

Scores: ``tool_accuracy`` (the expected tool is among the calls; ``none``: no call), ``argument_accuracy``
(over cases with ``expect_args``: the expected tool's arguments hold every expected value, ignoring case; a
``genres`` expectation is met by ``categories`` on a shop of products and vice versa), ``grounded_answer_rate``
(the answer's numbers, catalog titles and markup checked again against the turn's tool calls and results, as
:func:`serve.chat_answers.ungrounded` does, through the runner), ``language_match_rate``,
``template_answer_share`` (answers built by the template because the model's failed validation) and
``median_turn_seconds``.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.llm import ChatModel
from agent.loop import ToolSource
from agent.settings import Settings
from eval.config import BACKEND_LABELS, EvalConfig
from eval.suite import SuiteError, read_model

Progress = Callable[[int, int, "ChatCase", str], None]
Events = list[tuple[str, dict[str, Any]]]
INTEREST_KEYS = ("genres", "categories")


class ChatRunner(Protocol):
    """Runs chat turns for the eval and checks their answers (``serve.chat.ChatTurnRunner``)."""

    def prepare(self, shop: str) -> None:
        """Load a shop's tools before its first turn."""
        ...

    def turn(self, message: str, shop: str) -> Events:
        """One turn in a new session: its events as (kind, data)."""
        ...

    def ungrounded(self, answer: str, events: Events, shop: str) -> list[str]:
        """What in the answer the turn's tool calls and results do not hold."""
        ...

    def in_language(self, answer: str, language: str) -> bool:
        """True when the answer is in ``language``."""
        ...

    def close(self) -> None:
        """Release what the runner holds."""
        ...


RunnerFactory = Callable[[Settings, ToolSource, ChatModel], ChatRunner]
_RUNNER: list[RunnerFactory] = []


def register_chat_runner(factory: RunnerFactory) -> None:
    """Set the factory of the chat runner (``agent.cli`` registers ``serve.chat.chat_eval_runner``)."""
    _RUNNER[:] = [factory]


class ChatCase(BaseModel):
    """One marketer question and what must happen."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=80)
    shop: str = Field(min_length=1)
    language: Literal["en", "zh"]
    message: str = Field(min_length=1, max_length=2000)
    expect_tool: str = Field(min_length=1, description="A chat tool's name, or 'none' when no tool may be called.")
    expect_args: dict[str, list[str]] = Field(default_factory=dict)


class ChatSuite(BaseModel):
    """A chat suite: its cases (ids unique)."""

    model_config = ConfigDict(extra="forbid")

    cases: list[ChatCase] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ChatSuite:
        ids = [c.id for c in self.cases]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"case ids must be unique; repeated: {repeated}")
        return self


class ChatCaseResult(BaseModel):
    """What one case did."""

    id: str
    shop: str
    language: str
    tools: list[str]
    arguments: dict[str, dict[str, Any]]
    route_source: str | None
    answer: str
    answer_source: str | None
    error: str | None = None
    tool_ok: bool
    args_ok: bool | None
    grounded: bool
    grounding_problems: list[str]
    language_ok: bool
    seconds: float


def load_chat_suite(path: Path) -> ChatSuite:
    """Read and validate a chat suite.

    Raises:
        SuiteError: unreadable file or invalid suite (one line naming the problem).
    """
    return read_model(path, ChatSuite, "chat suite")


def _contains(actual: Any, expected: list[str]) -> bool:
    values = actual if isinstance(actual, list) else [actual]
    have = {str(v).lower() for v in values if v is not None}
    return all(e.lower() in have for e in expected)


def arguments_match(arguments: dict[str, Any], expected: dict[str, list[str]]) -> bool:
    """True when every expected key is present in ``arguments`` and holds every expected value."""
    for key, values in expected.items():
        keys = INTEREST_KEYS if key in INTEREST_KEYS else (key,)
        present = [arguments[k] for k in keys if k in arguments]
        if not present or not any(_contains(v, values) for v in present):
            return False
    return True


def score_turn(case: ChatCase, events: Events, seconds: float, runner: ChatRunner) -> ChatCaseResult:
    """Score one turn's events against its case (the runner checks the answer's grounding and language)."""
    calls = {d["id"]: d for e, d in events if e == "tool_call"}
    route = next((d for e, d in events if e == "route"), {})
    done = next((d for e, d in events if e == "done"), None)
    error = next((d["message"] for e, d in events if e == "error"), None)
    tools = [d["name"] for d in calls.values()]
    arguments: dict[str, dict[str, Any]] = {}
    for d in calls.values():
        arguments.setdefault(d["name"], d["arguments"])
    answer = done["answer"] if done else ""
    tool_ok = (not tools and done is not None) if case.expect_tool == "none" else case.expect_tool in tools
    args_ok = None
    if case.expect_args:
        args_ok = case.expect_tool in arguments and arguments_match(arguments[case.expect_tool], case.expect_args)
    problems = runner.ungrounded(answer, events, case.shop) if done else ["no answer"]
    return ChatCaseResult(
        id=case.id, shop=case.shop, language=case.language, tools=tools, arguments=arguments,
        route_source=route.get("source"), answer=answer, answer_source=done.get("source") if done else None,
        error=error, tool_ok=tool_ok, args_ok=args_ok, grounded=not problems, grounding_problems=problems,
        language_ok=bool(done) and runner.in_language(answer, case.language), seconds=round(seconds, 3))


def summarise(results: list[ChatCaseResult]) -> dict[str, Any]:
    """The suite's scores (see the module docstring)."""
    n = len(results)
    with_args = [r for r in results if r.args_ok is not None]

    def rate(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        "cases": n,
        "tool_accuracy": rate([r.tool_ok for r in results]),
        "argument_accuracy": rate([bool(r.args_ok) for r in with_args]),
        "argument_cases": len(with_args),
        "grounded_answer_rate": rate([r.grounded for r in results]),
        "language_match_rate": rate([r.language_ok for r in results]),
        "template_answer_share": rate([r.answer_source == "template" for r in results]),
        "model_answer_share": rate([r.answer_source == "llm" for r in results]),
        "model_route_share": rate([r.route_source == "model" for r in results]),
        "errors": sum(1 for r in results if r.error),
        "median_turn_seconds": round(statistics.median(r.seconds for r in results), 3) if results else None,
    }


def run_chat_suite(suite: ChatSuite, config: EvalConfig, progress: Progress | None = None,
                   tools: ToolSource | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Run every case through a real :class:`serve.chat.ChatService` and score it.

    Args:
        suite: The cases.
        config: Backend, seed.
        progress: Called after each case with a one-line result.
        tools: The shops' tools (default: a :class:`agent.assemble.Toolbox` building each on first use).
        settings: Settings (default: the environment's).

    Returns:
        The summary (:func:`summarise`) with ``config``, ``backend``, ``is_model``, ``model_name`` and per-case
        ``results``.
    """
    from agent.assemble import Toolbox
    from agent.settings import get_settings
    from eval.backends import build_model

    if not _RUNNER:
        raise SuiteError("no chat runner registered (agent.cli registers serve.chat.chat_eval_runner)")
    settings = (settings or get_settings()).model_copy(update={"seed": config.seed})
    model = build_model(config, settings)
    runner = _RUNNER[0](settings, tools or Toolbox(settings, model), model)
    results = []
    try:
        for i, case in enumerate(suite.cases, start=1):
            runner.prepare(case.shop)  # loaded before the clock starts
            started = time.perf_counter()
            events = runner.turn(case.message, case.shop)
            result = score_turn(case, events, time.perf_counter() - started, runner)
            results.append(result)
            if progress:
                marks = "".join("✓" if ok else "✗" for ok in (result.tool_ok, result.args_ok is not False,
                                                               result.grounded, result.language_ok))
                progress(i, len(suite.cases), case, f"{marks} {result.tools or ['none']} "
                         f"[{result.answer_source}] {result.seconds:.1f}s")
    finally:
        runner.close()
    return {"config": config.name, "backend": config.backend, "is_model": config.backend in ("embedded", "openai"),
            "backend_label": BACKEND_LABELS[config.backend], "model_name": model.name, **summarise(results),
            "results": [r.model_dump() for r in results]}


def check_suite_shops(suite: ChatSuite, known: list[str]) -> None:
    """Refuse a suite naming a shop the project does not know.

    Raises:
        SuiteError: naming the unknown shops.
    """
    unknown = sorted({c.shop for c in suite.cases} - set(known))
    if unknown:
        raise SuiteError(f"unknown shop(s) {unknown}; known: {known}")


def chat_command(suite: Path | None, config: Path | None, json_out: bool) -> None:
    """Run a chat suite (``campaign eval chat SUITE.yaml``) and print its scores; exit 2 on an invalid suite.

    Args:
        suite: The chat suite YAML.
        config: Configuration YAML (default: the scripted-template stand-in).
        json_out: Print the scores as one JSON object on stdout.
    """
    import typer
    from rich.console import Console

    from agent.llm import ensure_llm_server
    from agent.settings import get_settings
    from eval.config import load_config, scripted_default
    from tools.shop import shop_names

    console = Console(stderr=True)
    settings = get_settings()
    try:
        if suite is None:
            raise SuiteError("give the chat suite: campaign eval chat SUITE.yaml")
        loaded = load_chat_suite(suite)
        check_suite_shops(loaded, shop_names(settings))
        chosen = load_config(config) if config is not None else scripted_default()
    except SuiteError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

    def progress(i: int, n: int, case: ChatCase, line: str) -> None:
        console.print(f"  [{i}/{n}] {case.id}: {line}", highlight=False, soft_wrap=True, markup=False)

    console.print(f"chat eval of {suite} with {chosen.name} ({BACKEND_LABELS[chosen.backend]})", highlight=False)
    with contextlib.ExitStack() as stack:
        if chosen.backend == "embedded":
            served = settings.model_copy(update={"llm_model": chosen.model or settings.llm_model})
            console.print(f"  LLM server: {stack.enter_context(ensure_llm_server(served))}", highlight=False)
        report = run_chat_suite(loaded, chosen, progress)
    summary = {k: v for k, v in report.items() if k != "results"}
    console.print(" ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, str)), highlight=False)
    if json_out:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
