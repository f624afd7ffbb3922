"""JSON answers shaped like Orthanc's: keys sorted (JsonCpp's maps), UTF-8, indented."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def dump_json(content: Any) -> bytes:
    return orjson.dumps(content, option=_OPTIONS) + b"\n"


class OrthancJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dump_json(content)


def empty_json() -> OrthancJSONResponse:
    """Orthanc answers ``{}`` to successful state changes (DELETE, PUT) that return nothing else."""
    return OrthancJSONResponse({})


def empty_text() -> Response:
    """Orthanc's answer to state changes that return nothing (``DELETE /changes``, …)."""
    return Response(b"", media_type="text/plain")
