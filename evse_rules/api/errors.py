"""Errors in words: `{"detail": "amps: expected a number ..."}`, never pydantic's lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


def _place(loc: Sequence[Any]) -> str:
    """("body", "amps") -> "amps"; ("query", "limit") -> "limit"; ("body",) -> "body"."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "request"


def describe(errors: Sequence[Any]) -> tuple[int, str]:
    """(status, message): 400 for a body that is not JSON, else 422, one sentence per error."""
    status = 422
    lines = []
    for error in errors:
        kind = error.get("type", "")
        place = _place(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if kind == "json_invalid":
            status = 400
            lines.append(f"body: not valid JSON ({error.get('ctx', {}).get('error', message)})")
        elif kind == "missing":
            lines.append(f"{place}: missing")
        elif kind == "extra_forbidden":
            lines.append(f"{place}: not expected here")
        elif kind in ("model_attributes_type", "dict_type", "model_type"):
            status = 400
            lines.append(f"{place}: expected a JSON object such as {{\"amps\": 10}}")
        else:
            lines.append(f"{place}: {message}")
    return status, "; ".join(lines) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = describe(exc.errors())
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        elif exc.status_code == 404 and detail == "Not Found":
            detail = f"no such path: {request.url.path}"
        return JSONResponse({"detail": detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
