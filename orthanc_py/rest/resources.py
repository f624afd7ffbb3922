"""``/patients``, ``/studies``, ``/series``, ``/instances``: lists, each resource, its relatives,
deletion and statistics (Orthanc's OrthancRestResources.cpp, the browsing part)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.requested_tags import descendants
from ..index.base import ResourceRow
from .context_access import context_of
from .resource_json import TagFormat, expand_resources, flag
from .responses import OrthancJSONResponse

LEVELS = {level.plural: level for level in ResourceLevel}


def level_of(request: Request) -> ResourceLevel:
    """The level named by the route (``/{level}/…``), or by the first segment of a fixed path."""
    name = request.path_params.get("level") or request.url.path.strip("/").split("/")[0]
    return LEVELS[name]


def parse_int(params: Any, name: str, default: int = 0) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError as e:
        raise OrthancError(ErrorCode.BadParameterType, "Syntax error in some user-supplied data") from e
    if value < 0:
        raise OrthancError(ErrorCode.BadParameterType, "Syntax error in some user-supplied data")
    return value


def since_and_limit(request: Request) -> tuple[int, int]:
    """Orthanc pages lists only with both ``since`` and ``limit``; one alone is a bad request."""
    params = request.query_params
    has_since, has_limit = "since" in params, "limit" in params
    if has_since != has_limit:
        missing = "limit" if has_since else "since"
        raise OrthancError(
            ErrorCode.BadRequest,
            f'Missing "{missing}" argument for GET request against: {request.url.path.rstrip("/")}/',
        )
    if not has_since:
        return 0, 0
    limit = parse_int(params, "limit")
    return parse_int(params, "since"), limit


def parse_requested_tags(params: Any) -> list[int] | None:
    from ..core.dicom_tags import parse_tag

    text = params.get("requested-tags")
    if text is None:
        return None
    tags: list[int] = []
    for item in text.split(";"):
        if not item.strip():
            continue
        tag = parse_tag(item)
        if tag is None:
            raise OrthancError(ErrorCode.UnknownDicomTag, f"Unknown DICOM tag: {item}")
        tags.append(tag)
    return tags


async def list_resources(request: Request) -> Response:
    context = context_of(request)
    level = level_of(request)
    params = request.query_params
    since, limit = since_and_limit(request)
    async with context.index.transaction() as tx:
        if not flag(params, "expand"):
            return OrthancJSONResponse(await tx.list_public_ids(level, since, limit))
        rows = await tx.list_resources(level, since, limit)
        answers = await expand_resources(
            context, tx, rows, TagFormat.from_query(params), parse_requested_tags(params)
        )
    return OrthancJSONResponse(answers)


async def _lookup_or_none(request: Request) -> ResourceRow | None:
    """Orthanc answers GET and DELETE of an unknown ``/{level}/{id}`` with a bare 404, no body."""
    try:
        return await context_of(request).lookup(level_of(request), request.path_params["id"])
    except OrthancError as e:
        if e.code is ErrorCode.UnknownResource:
            return None
        raise


async def get_resource(request: Request) -> Response:
    context = context_of(request)
    row = await _lookup_or_none(request)
    if row is None:
        return Response(status_code=404)
    async with context.index.transaction() as tx:
        answers = await expand_resources(
            context,
            tx,
            [row],
            TagFormat.from_query(request.query_params),
            parse_requested_tags(request.query_params),
        )
    return OrthancJSONResponse(answers[0])


async def delete_resource(request: Request) -> Response:
    context = context_of(request)
    if await _lookup_or_none(request) is None:
        return Response(status_code=404)
    remaining = await context.delete_resource(level_of(request), request.path_params["id"])
    ancestor = None
    if remaining is not None:
        ancestor = {
            "ID": remaining.public_id,
            "Path": f"/{remaining.level.plural}/{remaining.public_id}",
            "Type": remaining.level.title,
        }
    return OrthancJSONResponse({"RemainingAncestor": ancestor})


async def relatives(request: Request) -> Response:
    """``/studies/{id}/instances``, ``/instances/{id}/patient``… (children lists or one ancestor)."""
    context = context_of(request)
    level = level_of(request)
    relative = request.path_params["relative"]
    target = ResourceLevel.parse(relative)
    is_child_list = relative in ("studies", "series", "instances") and target > level
    is_ancestor = relative in ("patient", "study", "series") and target < level
    if not (is_child_list or is_ancestor):
        raise OrthancError(ErrorCode.UnknownResource)
    row = await context.lookup(level, request.path_params["id"])
    params = request.query_params
    async with context.index.transaction() as tx:
        if target > level:
            rows = (await descendants(tx, [row.internal_id], target - level))[row.internal_id]
            if not flag(params, "expand") and "expand" in params:
                return OrthancJSONResponse([r.public_id for r in rows])
            answers = await expand_resources(
                context, tx, rows, TagFormat.from_query(params), parse_requested_tags(params)
            )
            return OrthancJSONResponse(answers)
        ancestor = row
        while ancestor.level > target:
            assert ancestor.parent_id is not None
            ancestor = (await tx.get_resources([ancestor.parent_id]))[0]
        answers = await expand_resources(
            context, tx, [ancestor], TagFormat.from_query(params), parse_requested_tags(params)
        )
    return OrthancJSONResponse(answers[0])


async def resource_statistics(request: Request) -> Response:
    context = context_of(request)
    level = level_of(request)
    row = await context.lookup(level, request.path_params["id"])
    async with context.index.transaction() as tx:
        counts: dict[ResourceLevel, list[ResourceRow]] = {}
        for depth in range(1, ResourceLevel.INSTANCE - level + 1):
            counts[ResourceLevel(level + depth)] = (await descendants(tx, [row.internal_id], depth))[
                row.internal_id
            ]
        instances = counts.get(ResourceLevel.INSTANCE, [row])
        totals = await tx.size_totals([r.internal_id for r in instances])
    answer: dict[str, Any] = {
        "DiskSize": str(totals.disk_size),
        "DiskSizeMB": totals.disk_size // (1024 * 1024),
        "UncompressedSize": str(totals.uncompressed_size),
        "UncompressedSizeMB": totals.uncompressed_size // (1024 * 1024),
        "DicomDiskSize": str(totals.dicom_disk_size),
        "DicomDiskSizeMB": totals.dicom_disk_size // (1024 * 1024),
        "DicomUncompressedSize": str(totals.dicom_uncompressed_size),
        "DicomUncompressedSizeMB": totals.dicom_uncompressed_size // (1024 * 1024),
    }
    names = {
        ResourceLevel.STUDY: "CountStudies",
        ResourceLevel.SERIES: "CountSeries",
        ResourceLevel.INSTANCE: "CountInstances",
    }
    for lvl, rows in counts.items():
        answer[names[lvl]] = len(rows)
    return OrthancJSONResponse(answer)


async def get_protected(request: Request) -> Response:
    context = context_of(request)
    row = await context.lookup(ResourceLevel.PATIENT, request.path_params["id"])
    async with context.index.transaction() as tx:
        protected = await tx.is_protected(row.internal_id)
    return Response("1" if protected else "0", media_type="text/plain")


async def put_protected(request: Request) -> Response:
    context = context_of(request)
    row = await context.lookup(ResourceLevel.PATIENT, request.path_params["id"])
    body = (await request.body()).decode("utf-8", "replace").strip()
    if body not in ("0", "1", "true", "false"):
        raise OrthancError(ErrorCode.BadFileFormat, "Boolean value expected")
    async with context.index.transaction(write=True) as tx:
        await tx.set_protected(row.internal_id, body in ("1", "true"))
    return Response("", media_type="text/plain")


_LEVEL = "{level:level}"

routes = [
    *(Route(f"/{level.plural}", list_resources, methods=["GET"]) for level in ResourceLevel),
    Route(f"/{_LEVEL}/{{id}}", get_resource, methods=["GET"]),
    Route(f"/{_LEVEL}/{{id}}", delete_resource, methods=["DELETE"]),
    Route(f"/{_LEVEL}/{{id}}/statistics", resource_statistics, methods=["GET"]),
    Route("/patients/{id}/protected", get_protected, methods=["GET"]),
    Route("/patients/{id}/protected", put_protected, methods=["PUT"]),
    Route(f"/{_LEVEL}/{{id}}/{{relative:relative}}", relatives, methods=["GET"]),
]
