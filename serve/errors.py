"""The API's error answers: always JSON the client can read, and declared in the OpenAPI schema.

:func:`install_error_handling` is called once by :func:`serve.api.create_app` after the routes are added. It

- answers a request that fails validation with the usual 422 body, made JSON-safe: JSON numbers Python reads as
  NaN or ±Infinity (``NaN``, ``Infinity``, ``1e400``) and bytes are echoed as strings, where FastAPI's default
  handler raised on them and answered a bare 500;
- answers a database that cannot be written (locked, read-only, full) or a full disk with 503, a message naming
  the cause and ``Retry-After``, where the request failed with a bare 500: nothing was stored, so a retry is safe;
- declares in the schema the answers every route may give: 400 (a body that is not JSON) on routes with a body,
  404 on routes with a path parameter, and 503 on every route, each with an :class:`ErrorOut` body.
"""

from __future__ import annotations

import errno
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError

RETRY_AFTER_S = 5
"""Seconds a client is asked to wait after a 503 for a database that cannot be written."""
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
"""OS errors of storage the API cannot write to: disk full, quota, read-only file system, I/O error."""


class ErrorOut(BaseModel):
    """An error answer: ``detail`` says what went wrong (a message, or the field errors of a 422)."""

    detail: str | list[Any] | dict[str, Any] = Field(description="What went wrong.")


def json_safe(value: Any) -> Any:
    """Return ``value`` with what JSON cannot carry replaced: non-finite floats and bytes become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return value


def storage_failure(exc: BaseException) -> str | None:
    """Say why storage failed when ``exc`` (or its cause) is a database or disk that cannot be written, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).lower()
        if isinstance(current, OperationalError) or type(current).__name__ == "OperationalError":
            for marker, reason in (("locked", "the database is locked by another writer"),
                                   ("readonly", "the database is read-only"),
                                   ("read-only", "the database is read-only"), ("disk is full", "the disk is full"),
                                   ("full", "the database or disk is full"), ("disk i/o", "the disk failed to write")):
                if marker in text:
                    return reason
        if isinstance(current, OSError) and current.errno in STORAGE_ERRNOS:
            return {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                    errno.EROFS: "the file system is read-only"}.get(current.errno, "the disk failed to write")
        current = current.__cause__ or current.__context__
    return None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": jsonable_encoder(json_safe(list(errors)))}, status_code=422)


async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    reason = storage_failure(exc)
    if reason is None:
        raise exc
    return JSONResponse({"detail": f"storage unavailable: {reason}; nothing was changed, retry later"},
                        status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def _declare(operation: dict[str, Any], status: int, description: str) -> None:
    operation.setdefault("responses", {}).setdefault(str(status), {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}})


def declare_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error answers every operation may give to an OpenAPI ``schema`` (in place; returned)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorOut", ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}"))
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            if "requestBody" in operation:
                _declare(operation, 400, "The body is not valid JSON (or not readable)")
            if "{" in path:
                _declare(operation, 404, "Not found")
            _declare(operation, 503, "Storage unavailable (database locked, read-only or full); retry after "
                                     "Retry-After")
    return schema


def install_error_handling(app: FastAPI) -> None:
    """Install the JSON-safe 422 and the storage 503 handlers, and declare the error answers in the app's schema."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _storage_error)
    app.add_exception_handler(OSError, _storage_error)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_error_responses(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
