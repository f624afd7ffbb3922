"""``/tools/find`` and ``/tools/lookup`` (Orthanc's OrthancRestResources.cpp, the search part)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.dicom_tags import (
    TAG_PATIENT_ID,
    TAG_SERIES_INSTANCE_UID,
    TAG_SOP_INSTANCE_UID,
    TAG_STUDY_INSTANCE_UID,
    parse_tag,
)
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.query import FindQuery, find_resources
from ..index.base import LabelFilter
from .context_access import context_of
from .labels import check_label
from .resource_json import TagFormat, expand_resources
from .responses import OrthancJSONResponse


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or Orthanc's "The body must contain a JSON object" (400)."""
    body = await request.body()
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise OrthancError(ErrorCode.BadRequest, "The body must contain a JSON object")
    return value


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise OrthancError(ErrorCode.BadFileFormat, f'Field "{key}" must be a Boolean', http_status=400)
    return value


def _unsigned(body: dict[str, Any], key: str) -> int:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f'Field "{key}" must be a positive integer')
    return value


def _tag(name: str) -> int:
    tag = parse_tag(name)
    if tag is None:
        # Orthanc answers 500 here; an unknown tag name is the client's mistake, so 400.
        raise OrthancError(ErrorCode.UnknownDicomTag, name, http_status=400)
    return tag


def _labels(body: dict[str, Any]) -> LabelFilter | None:
    labels = body.get("Labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise OrthancError(ErrorCode.BadRequest, 'Field "Labels" must be a list of strings')
    constraint = body.get("LabelsConstraint", "All")
    if constraint not in ("All", "Any", "None"):
        raise OrthancError(
            ErrorCode.ParameterOutOfRange, 'Field "LabelsConstraint" must be "All", "Any" or "None"'
        )
    for label in labels:
        check_label(label)
    return LabelFilter(tuple(labels), constraint) if labels else None


def _order_by(body: dict[str, Any]) -> list[tuple[int, bool]]:
    """``OrderBy``: ``[{"Type": "DicomTag", "Key": "StudyDate", "Direction": "ASC"|"DESC"}, …]``."""
    value = body.get("OrderBy", [])
    if not isinstance(value, list):
        raise OrthancError(ErrorCode.BadRequest, 'Field "OrderBy" must be a list')
    order: list[tuple[int, bool]] = []
    for item in value:
        if (
            not isinstance(item, dict)
            or item.get("Type") != "DicomTag"
            or not isinstance(item.get("Key"), str)
            or item.get("Direction", "ASC") not in ("ASC", "DESC")
        ):
            raise OrthancError(
                ErrorCode.BadRequest, f"Unsupported OrderBy entry: {orjson.dumps(item).decode()}"
            )
        order.append((_tag(item["Key"]), item.get("Direction", "ASC") == "ASC"))
    return order


async def tools_find(request: Request) -> Response:
    context = context_of(request)
    body = await json_object(request)
    if not isinstance(body.get("Level"), str):
        raise OrthancError(ErrorCode.BadRequest, 'Field "Level" is missing, or should be a string')
    if not isinstance(body.get("Query"), dict):
        raise OrthancError(ErrorCode.BadRequest, 'Field "Query" is missing, or should be a JSON object')
    try:
        level = ResourceLevel.parse(body["Level"])
    except ValueError as e:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Invalid resource type '{body['Level']}'") from e
    constraints: dict[int, str] = {}
    for key, value in body["Query"].items():
        if not isinstance(value, str):
            raise OrthancError(ErrorCode.BadRequest, f'Tag "{key}" must be associated with a string')
        constraints[_tag(key)] = value
    requested = body.get("RequestedTags")
    requested_tags: list[int] | None = None
    if requested is not None:
        if not isinstance(requested, list) or not all(isinstance(t, str) for t in requested):
            raise OrthancError(ErrorCode.BadRequest, 'Field "RequestedTags" must be a list of strings')
        requested_tags = [_tag(t) for t in requested]
    limit = _unsigned(body, "Limit")
    query = FindQuery(
        level=level,
        constraints=constraints,
        case_sensitive=_bool(body, "CaseSensitive", False),
        since=_unsigned(body, "Since"),
        limit=limit,
        order_by=_order_by(body),
        labels=_labels(body),
    )
    fmt = TagFormat(
        "full" if _bool(body, "Full", False) else "short" if _bool(body, "Short", False) else "simplify"
    )
    async with context.index.transaction() as tx:
        rows = await find_resources(context, tx, query)
        if not _bool(body, "Expand", False):
            return OrthancJSONResponse([r.public_id for r in rows])
        answers = await expand_resources(context, tx, rows, fmt, requested_tags)
    return OrthancJSONResponse(answers)


_IDENTIFIERS = (
    (ResourceLevel.PATIENT, TAG_PATIENT_ID),
    (ResourceLevel.STUDY, TAG_STUDY_INSTANCE_UID),
    (ResourceLevel.SERIES, TAG_SERIES_INSTANCE_UID),
    (ResourceLevel.INSTANCE, TAG_SOP_INSTANCE_UID),
)


async def tools_lookup(request: Request) -> Response:
    """Which resources have this PatientID, StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID."""
    context = context_of(request)
    value = (await request.body()).decode("utf-8", "replace").strip()
    answers = []
    async with context.index.transaction() as tx:
        for level, tag in _IDENTIFIERS:
            for row in await tx.lookup_identifier(level, tag, value):
                answers.append(
                    {"ID": row.public_id, "Path": f"/{level.plural}/{row.public_id}", "Type": level.title}
                )
    return OrthancJSONResponse(answers)


routes = [
    Route("/tools/find", tools_find, methods=["POST"]),
    Route("/tools/lookup", tools_lookup, methods=["POST"]),
]
