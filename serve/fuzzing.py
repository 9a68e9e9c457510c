"""Schema-driven fuzzing of the API: schemathesis generates requests for every operation of the app's OpenAPI schema.

:func:`fuzz_app` loads the schema from the app object (``app.openapi()``, so it works when ``/openapi.json`` needs a
key), then for every operation sends ``max_examples`` requests generated from the schema (valid ones) and as many
generated to violate it (negative data), all with the caller's headers (a valid key), through the app in-process.
Each response is checked for a server error (5xx), a status code the operation does not declare, and a body that
does not match the declared schema. Event streams are cut after a few events by schemathesis's ASGI client, so a
stream that never ends cannot hang the run. Schemathesis is a dev dependency (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

SERVER_ERROR_CHECK = "not_a_server_error"
SCHEMA_CHECKS = ("status_code_conformance", "response_schema_conformance", "content_type_conformance")


class FuzzFailure(BaseModel):
    """One failed check of one generated request."""

    operation: str = Field(description="The operation, e.g. 'POST /v1/plans'.")
    check: str = Field(description="The schemathesis check that failed.")
    status_code: int
    message: str = Field(description="Schemathesis's explanation (first 500 characters).")
    request: str = Field(description="The request as a curl command (first 500 characters).")


class FuzzReport(BaseModel):
    """What a fuzzing run sent and found."""

    requests: int = Field(description="Requests sent.")
    operations: int = Field(description="Operations of the schema fuzzed.")
    server_errors: int = Field(description="Responses with a 5xx status (or an exception out of the app).")
    schema_violations: int = Field(description="Responses whose status code, content type or body break the schema.")
    status_counts: dict[str, int] = Field(description="Responses per status code.")
    failures: list[FuzzFailure] = Field(description="The first failure of each (operation, check, status).")


def fuzz_app(app: FastAPI, headers: dict[str, str], max_examples: int = 50, seed: int = 0,
             negative: bool = True, known: dict[str, list[str]] | None = None) -> FuzzReport:
    """Fuzz every operation of ``app``'s schema and check each response.

    Args:
        app: The API (its lifespan is started once by schemathesis's ASGI client and kept for the run).
        headers: Sent with every request (``Authorization: Bearer <key>``).
        max_examples: Requests generated per operation and generation mode.
        seed: Hypothesis seed (the run is reproducible for a seed and an app state).
        negative: Also send requests generated to violate the schema (they must get a 4xx, never a 5xx).
        known: Path parameter values that exist (e.g. ``{"job_id": [an id of a finished plan]}``): each operation
            with that parameter is fuzzed once more per value with the parameter fixed, so its requests get past
            the 404 of a made-up id.

    Returns:
        The counts and the distinct failures.
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import seed as hypothesis_seed
    from hypothesis import settings as hypothesis_settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import load_all_checks
    from schemathesis.core.failures import FailureGroup
    from schemathesis.core.result import Ok

    load_all_checks()
    from schemathesis.checks import CHECKS

    checks = [CHECKS.get_one(name) for name in (SERVER_ERROR_CHECK, *SCHEMA_CHECKS)]
    schema = schemathesis.openapi.from_dict(app.openapi())
    statuses: Counter[str] = Counter()
    failures: dict[tuple[str, str, int], FuzzFailure] = {}
    counts = {"requests": 0, "server_errors": 0, "schema_violations": 0}
    modes = [schemathesis.GenerationMode.POSITIVE] + ([schemathesis.GenerationMode.NEGATIVE] if negative else [])
    operations = [op.ok() for op in schema.get_all_operations() if isinstance(op, Ok)]

    def record(label: str, check: str, status: int, message: str, request: str) -> None:
        if check == SERVER_ERROR_CHECK:
            counts["server_errors"] += 1
        else:
            counts["schema_violations"] += 1
        failures.setdefault((label, check, status), FuzzFailure(
            operation=label, check=check, status_code=status, message=message[:500], request=request[:500]))

    rounds = [(operation, mode, fixed) for operation in operations for mode in modes
              for fixed in [None, *[{name: value} for name, values in (known or {}).items() for value in values
                                    if f"{{{name}}}" in operation.path]]]
    def one(case: Any, label: str) -> None:
        counts["requests"] += 1
        try:
            response = case.call(app=app, headers=headers)
        except Exception as exc:  # an exception out of the app is a server error
            statuses["exception"] += 1
            record(label, SERVER_ERROR_CHECK, 500, f"{type(exc).__name__}: {exc}",
                   case.as_curl_command(headers=headers))
            return
        statuses[str(response.status_code)] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            curl = case.as_curl_command(headers=headers)
            for failure in group.exceptions:
                record(label, _check_name(failure), response.status_code,
                       failure.title + ": " + (failure.message or ""), curl)

    for operation, mode, fixed in rounds:
        strategy = operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=fixed)
        send = hypothesis_seed(seed)(hypothesis_settings(
            max_examples=max_examples, database=None, deadline=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck), derandomize=False, print_blob=False,
        )(given(case=strategy)(_bound(one, operation.label))))
        try:
            send()
        except Unsatisfiable:  # no request can violate this operation's schema (e.g. it has no parameters)
            continue
    return FuzzReport(requests=counts["requests"], operations=len(operations), server_errors=counts["server_errors"],
                      schema_violations=counts["schema_violations"], status_counts=dict(statuses),
                      failures=list(failures.values()))


def _bound(one: Callable[[Any, str], None], label: str) -> Callable[[Any], None]:
    """``one`` with its operation label bound (a plain function, as hypothesis's ``@given`` needs)."""

    def send(case: Any) -> None:
        one(case, label)

    return send


def _check_name(failure: Any) -> str:
    """The check a schemathesis failure came from (its class tells it)."""
    kind = type(failure).__name__
    return {"ServerError": SERVER_ERROR_CHECK, "UndefinedStatusCode": "status_code_conformance",
            "JsonSchemaError": "response_schema_conformance", "MalformedJson": "response_schema_conformance",
            "UndefinedContentType": "content_type_conformance", "MalformedMediaType": "content_type_conformance",
            "MissingContentType": "content_type_conformance"}.get(kind, kind)
