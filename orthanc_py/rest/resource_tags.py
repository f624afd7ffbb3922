"""Tags of a resource read from its DICOM files: ``shared-tags``, ``module``, ``module-patient``
and ``instances-tags`` (Orthanc's OrthancRestResources.cpp)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.dicom_modules import MODULE_TAGS
from ..core.dicom_tags import format_tag, parse_tag, reshape_tags
from ..core.identifiers import ResourceLevel
from ..core.instances_below import instances_of_rows
from ..index.base import ResourceRow
from .context_access import context_of
from .instances import instance_tags_json, tags_shape
from .resources import level_of
from .responses import OrthancJSONResponse


async def _instances_of(request: Request) -> list[ResourceRow]:
    context = context_of(request)
    level = level_of(request) if "level" in request.path_params else ResourceLevel.STUDY
    row = await context.lookup(level, request.path_params["id"])
    async with context.index.transaction() as tx:
        return await instances_of_rows(tx, [row])


async def _full_tags(request: Request, instance: ResourceRow) -> dict[str, Any]:
    context = context_of(request)
    data = await context.read_dicom_of(instance.internal_id)
    return await context.run_cpu(instance_tags_json, data, "full")


async def shared_tags(request: Request) -> Response:
    """The tags whose string value is the same in every instance of the resource."""
    shared: dict[str, Any] | None = None
    for instance in await _instances_of(request):
        tags = await _full_tags(request, instance)
        if shared is None:
            shared = {k: v for k, v in tags.items() if v["Type"] == "String"}
        else:
            shared = {k: v for k, v in shared.items() if tags.get(k) == v}
    return OrthancJSONResponse(reshape_tags(shared or {}, tags_shape(request.query_params)))


async def _module(request: Request, module: ResourceLevel) -> Response:
    instances = await _instances_of(request)
    tags = await _full_tags(request, instances[0]) if instances else {}
    wanted = {format_tag(t) for t in MODULE_TAGS[module]}
    selected = {k: v for k, v in tags.items() if k in wanted}
    return OrthancJSONResponse(reshape_tags(selected, tags_shape(request.query_params)))


async def module(request: Request) -> Response:
    return await _module(request, level_of(request))


async def module_patient(request: Request) -> Response:
    return await _module(request, ResourceLevel.PATIENT)


async def instances_tags(request: Request) -> Response:
    answer = {}
    for instance in await _instances_of(request):
        answer[instance.public_id] = reshape_tags(
            await _full_tags(request, instance), tags_shape(request.query_params)
        )
    return OrthancJSONResponse(answer)


_BASE = "/{level:level}/{id}"

routes = [
    Route(f"{_BASE}/shared-tags", shared_tags, methods=["GET"]),
    Route(f"{_BASE}/module", module, methods=["GET"]),
    Route("/studies/{id}/module-patient", module_patient, methods=["GET"]),
    Route(f"{_BASE}/instances-tags", instances_tags, methods=["GET"]),
]

__all__ = ["routes", "parse_tag"]
