"""Labels of patients, studies, series and instances (Orthanc 1.12: ``/{level}/{id}/labels``,
``/tools/labels``); ``/tools/find`` filters on them with ``Labels`` and ``LabelsConstraint``."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.errors import ErrorCode, OrthancError
from ..index.base import ResourceRow
from .context_access import context_of
from .resources import level_of
from .responses import OrthancJSONResponse, empty_text

_LABEL = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_label(label: str) -> str:
    if not _LABEL.fullmatch(label):
        raise OrthancError(
            ErrorCode.ParameterOutOfRange,
            "A label must be a non-empty, alphanumeric string, possibly with '_' or '-' characters, "
            f"with maximum 64 characters, but got: {label}",
        )
    return label


async def list_labels(request: Request) -> Response:
    context = context_of(request)
    row = await context.lookup(level_of(request), request.path_params["id"])
    async with context.index.transaction() as tx:
        return OrthancJSONResponse((await tx.get_labels([row.internal_id]))[row.internal_id])


async def _resource_and_label(request: Request) -> tuple[ResourceRow, str]:
    row = await context_of(request).lookup(level_of(request), request.path_params["id"])
    return row, check_label(request.path_params["label"])


async def get_label(request: Request) -> Response:
    row, label = await _resource_and_label(request)
    async with context_of(request).index.transaction() as tx:
        present = label in (await tx.get_labels([row.internal_id]))[row.internal_id]
    return empty_text() if present else Response(status_code=404)


async def put_label(request: Request) -> Response:
    row, label = await _resource_and_label(request)
    async with context_of(request).index.transaction(write=True) as tx:
        await tx.add_label(row.internal_id, label)
    return empty_text()


async def delete_label(request: Request) -> Response:
    row, label = await _resource_and_label(request)
    async with context_of(request).index.transaction(write=True) as tx:
        await tx.remove_label(row.internal_id, label)
    return empty_text()


async def all_labels(request: Request) -> Response:
    context = context_of(request)
    async with context.index.transaction() as tx:
        return OrthancJSONResponse(await tx.all_labels())


_BASE = "/{level:level}/{id}/labels"

routes = [
    Route(_BASE, list_labels, methods=["GET"]),
    Route(_BASE + "/{label}", get_label, methods=["GET"]),
    Route(_BASE + "/{label}", put_label, methods=["PUT"]),
    Route(_BASE + "/{label}", delete_label, methods=["DELETE"]),
    Route("/tools/labels", all_labels, methods=["GET"]),
]
