"""Errors as RFC 9457 problem details: ``type``, ``title``, ``status``, ``detail`` and
the ``field`` the problem is about (the same name and message the browser's form shows).

Every refusal of the API goes through here: a service's
:class:`~cai_web.errors.DomainError` (its message and ``field`` as is; a
:class:`~cai_web.errors.ProblemsError` lists every problem in ``errors``), a request
that does not match the schema (each pydantic error with its field path), 401, 403,
404, 412/428 of ``If-Match``, 429 of the rate limit.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from cai_web.errors import DomainError, ProblemsError
from cai_web.jsonlimits import JSONLimitError
from constitutions.services import EditConflict
from training.errors import IdempotencyConflict

from .auth import RateLimited

PROBLEM_TYPE = "urn:cai-web:problem:"
CONTENT_TYPE = "application/problem+json"


class FieldProblem(Schema):
    field: str | None = None
    detail: str


class Problem(Schema):
    """A problem details object (RFC 9457) with the field it is about."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[FieldProblem] = []


TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    422: "Unprocessable request",
    428: "Precondition required",
    429: "Too many requests",
}
SLUGS = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    412: "edit-conflict",
    428: "if-match-required",
    429: "rate-limited",
}


def problem(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body = {
        "type": PROBLEM_TYPE + (kind or SLUGS.get(status, "invalid")),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "field": field,
        "errors": errors or [],
    }
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = CONTENT_TYPE
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class PreconditionFailed(Exception):
    """An ``If-Match`` that does not match (412) or is missing where required (428)."""

    def __init__(self, message: str, status: int = 412, current_etag: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.current_etag = current_etag


def _loc_field(loc: Any) -> str | None:
    parts = [str(p) for p in (loc or ())]
    # ninja prefixes where the value came from; the field is what follows.
    if parts and parts[0] in {"body", "query", "path", "form", "file", "header", "cookie"}:
        parts = parts[1:]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts) or None


def _body_problem(exc: HttpError) -> str | None:
    """Why ninja could not parse the request body (its 400 says only that it could not):
    the parser's own error, chained as the cause."""
    cause = exc.__cause__
    if isinstance(cause, JSONLimitError):
        return f"The request body is not JSON this API accepts: it is {cause.msg}."
    if isinstance(cause, json.JSONDecodeError):
        return (
            f"The request body is not valid JSON: {cause.msg} at line {cause.lineno}, "
            f"column {cause.colno}."
        )
    if isinstance(cause, UnicodeDecodeError):
        return f"The request body is not UTF-8 text (byte offset {cause.start})."
    if isinstance(cause, ValueError):  # e.g. an integer of more digits than Python converts
        return f"The request body is not JSON this API accepts: {cause}."
    return None


def install(api: NinjaAPI) -> None:
    """Answer every refusal of ``api`` as a problem details object."""

    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        errors = (
            [{"field": exc.field, "detail": p} for p in exc.problems]
            if isinstance(exc, ProblemsError)
            else []
        )
        if isinstance(exc, EditConflict):
            return problem(api, request, 409, str(exc), field=exc.field, kind="edit-conflict")
        if isinstance(exc, IdempotencyConflict):
            return problem(
                api, request, 409, str(exc), field=exc.field, kind="idempotency-conflict"
            )
        return problem(api, request, 422, str(exc), field=exc.field, errors=errors)

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        pairs = [(_loc_field(e.get("loc")), str(e.get("msg", e))) for e in exc.errors]
        errors: list[dict[str, Any]] = [{"field": f, "detail": d} for f, d in pairs]
        field, first = pairs[0] if pairs else (None, "invalid request")
        detail = first if len(pairs) == 1 else "; ".join(f"{f}: {d}" if f else d for f, d in pairs)
        return problem(api, request, 422, detail, field=field, errors=errors)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem(
            api,
            request,
            401,
            "Send a valid API token as 'Authorization: Bearer <token>' (or sign in).",
            headers={"WWW-Authenticate": 'Bearer realm="cai_web"'},
        )

    @api.exception_handler(RateLimited)
    def rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
        return problem(api, request, 429, str(exc), headers={"Retry-After": str(exc.retry_after)})

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem(api, request, 404, str(exc) or "No such object.")

    @api.exception_handler(PermissionDenied)
    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return problem(api, request, 403, str(exc) or "Your role cannot do this.")

    @api.exception_handler(PreconditionFailed)
    def precondition(request: HttpRequest, exc: PreconditionFailed) -> HttpResponse:
        headers = {"ETag": exc.current_etag} if exc.current_etag else None
        return problem(api, request, exc.status, str(exc), field="If-Match", headers=headers)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return problem(api, request, exc.status_code, _body_problem(exc) or str(exc))


__all__ = ["FieldProblem", "PreconditionFailed", "Problem", "install", "problem"]
