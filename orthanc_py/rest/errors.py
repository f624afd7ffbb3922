"""The one place where errors become Orthanc's JSON error body.

Orthanc answers every failure of a REST call with::

    {"HttpError": "Not Found", "HttpStatus": 404, "Message": "Unknown resource", "Method": "GET",
     "OrthancError": "Unknown resource", "OrthancStatus": 17, "Uri": "/patients/…"}

plus ``Details`` when it has more to say. Unknown routes and wrong methods are answered here too.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..core.errors import ERROR_DESCRIPTIONS, ErrorCode, OrthancError
from .responses import dump_json

logger = logging.getLogger(__name__)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(
    request: Request, code: ErrorCode, http_status: int, message: str, details: str | None
) -> dict:
    body: dict[str, object] = {
        "HttpError": _reason(http_status),
        "HttpStatus": http_status,
        "Message": message,
        "Method": request.method,
        "OrthancError": ERROR_DESCRIPTIONS.get(code, code.name),
        "OrthancStatus": int(code),
        "Uri": request.url.path,
    }
    if details:
        body["Details"] = details
    return body


async def orthanc_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OrthancError)
    if exc.http_status >= 500:
        logger.error("%s %s: %s", request.method, request.url.path, exc.details or exc.message)
    else:
        logger.info("%s %s: %s", request.method, request.url.path, exc.details or exc.message)
    return error_response(request, exc.code, exc.http_status, exc.message, exc.details)


def error_response(
    request: Request, code: ErrorCode, http_status: int, message: str, details: str | None
) -> Response:
    # Orthanc sends its JSON error body with a text/plain content type; clients rely on the body only.
    # With "HttpDescribeErrors": false, only the status is sent.
    if not getattr(request.app.state.context.settings, "http_describe_errors", True):
        return Response(status_code=http_status)
    return Response(
        dump_json(error_body(request, code, http_status, message, details)),
        status_code=http_status,
        media_type="text/plain",
    )


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Orthanc answers a wrong method with an empty body and the allowed methods, GET first.
        allow = next((v for k, v in headers.items() if k.lower() == "allow"), "")
        allowed = [m.strip() for m in allow.split(",") if m.strip() and m.strip() != "HEAD"]
        order = ["GET", "POST", "DELETE", "PUT"]
        allowed.sort(key=lambda m: order.index(m) if m in order else len(order))
        return Response(status_code=405, headers={"Allow": ",".join(allowed)})
    if exc.status_code == 404:
        return error_response(request, ErrorCode.UnknownResource, 404, "Unknown resource", None)
    return Response(status_code=exc.status_code, headers=headers)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    logger.exception("Internal error on %s %s", request.method, request.url.path)
    return error_response(request, ErrorCode.InternalError, 500, "Internal error", str(exc) or None)
