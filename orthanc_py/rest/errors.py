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
from .responses import OrthancJSONResponse

logger = logging.getLogger(__name__)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(request: Request, code: ErrorCode, http_status: int, message: str, details: str | None) -> dict:
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
    return OrthancJSONResponse(
        error_body(request, exc.code, exc.http_status, exc.message, exc.details), status_code=exc.http_status
    )


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Orthanc answers a wrong method with an empty body and the allowed methods.
        return Response(status_code=405, headers=headers)
    if exc.status_code == 404:
        return OrthancJSONResponse(
            error_body(request, ErrorCode.UnknownResource, 404, "Unknown resource", None),
            status_code=404,
        )
    return Response(status_code=exc.status_code, headers=headers)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    logger.exception("Internal error on %s %s", request.method, request.url.path)
    return OrthancJSONResponse(
        error_body(request, ErrorCode.InternalError, 500, "Internal error", str(exc) or None), status_code=500
    )
