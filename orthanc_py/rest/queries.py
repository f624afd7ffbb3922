"""``/modalities/{id}/query`` and ``/queries``: C-FIND queries kept in the index with their answers
(``QueryRetrieveSize`` of them, shared by every process), browsed, refined and retrieved."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import orjson
from pydicom.datadict import keyword_for_tag
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.dicom_tags import format_tag, parse_tag, reshape_tags
from ..core.errors import ErrorCode, OrthancError
from ..core.jobs.move_scu import retrieve_job
from ..index.jobs_rows import QueryRow
from ..net import scu
from ..net.modalities import registry_for
from .context_access import context_of
from .export_request import optional_bool, optional_int, optional_str
from .instances import tags_shape
from .jobs import answer_job
from .modalities import answer_json, json_body, local_aet, modality_of, retrieve_method
from .responses import OrthancJSONResponse, empty_text

LEVELS = {"patient": "Patient", "study": "Study", "series": "Series", "instance": "Instance"}
# The identifier of each level, and the levels above it, which a retrieve needs.
IDENTIFIERS = {
    "Patient": [("PatientID", "0010,0020")],
    "Study": [("StudyInstanceUID", "0020,000d")],
    "Series": [("StudyInstanceUID", "0020,000d"), ("SeriesInstanceUID", "0020,000e")],
    "Instance": [
        ("StudyInstanceUID", "0020,000d"),
        ("SeriesInstanceUID", "0020,000e"),
        ("SOPInstanceUID", "0008,0018"),
    ],
}


def _level(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in LEVELS:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Invalid resource type '{value}'")
    return LEVELS[value.lower()]


def _query_fields(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "Query" must be an object of strings')
    return value


async def _run_query(
    request: Request,
    modality_name: str,
    level: str,
    query: dict[str, str],
    body: dict[str, Any],
    parent: QueryRow | None = None,
) -> Response:
    """Run a C-FIND and keep it; a child query of ``parent``'s answer keeps its Normalize option and,
    unless the body gives one, its Timeout (Orthanc's QueryAnswerChildren)."""
    context = context_of(request)
    modality = await registry_for(context).get(modality_name)
    if "LocalAet" in body:
        modality = replace(modality, local_aet=optional_str(body, "LocalAet") or None)
    if parent is None:
        normalize = optional_bool(body, "Normalize", True)
        timeout = optional_int(body, "Timeout") or None
    else:
        normalize = parent.normalize
        timeout = optional_int(body, "Timeout") or parent.timeout
    answers = await scu.find(context, modality, level, query, normalize=normalize, timeout=timeout)
    row = QueryRow(
        id=str(uuid.uuid4()),
        modality=modality_name,
        level=level,
        query=orjson.dumps(query).decode(),
        answers=orjson.dumps([answer_json(a, "full") for a in answers]).decode(),
        normalize=normalize,
        timeout=timeout,
    )
    async with context.index.transaction(write=True) as tx:
        await tx.add_query(row, context.settings.query_retrieve_size)
    return OrthancJSONResponse({"ID": row.id, "Path": f"/queries/{row.id}"})


async def query(request: Request) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object")
    await modality_of(request)
    return await _run_query(
        request, request.path_params["id"], _level(body.get("Level")), _query_fields(body.get("Query")), body
    )


async def _query_row(request: Request) -> QueryRow:
    async with context_of(request).index.transaction() as tx:
        row = await tx.get_query(request.path_params["id"])
    if row is None:
        raise OrthancError(ErrorCode.UnknownResource)
    return row


def _answers(row: QueryRow) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = orjson.loads(row.answers)
    return answers


def _answer(row: QueryRow, request: Request) -> dict[str, Any]:
    answers = _answers(row)
    try:
        index = int(request.path_params["index"])
        if index < 0:
            raise ValueError
        return answers[index]
    except (ValueError, IndexError) as e:
        raise OrthancError(ErrorCode.ParameterOutOfRange) from e


async def list_queries(request: Request) -> Response:
    async with context_of(request).index.transaction() as tx:
        return OrthancJSONResponse(await tx.list_query_ids())


async def query_operations(request: Request) -> Response:
    await _query_row(request)
    return OrthancJSONResponse(["answers", "level", "modality", "query", "retrieve"])


async def delete_query(request: Request) -> Response:
    async with context_of(request).index.transaction(write=True) as tx:
        if not await tx.delete_query(request.path_params["id"]):
            raise OrthancError(ErrorCode.UnknownResource)
    return empty_text()


async def list_answers(request: Request) -> Response:
    answers = _answers(await _query_row(request))
    if "expand" in request.query_params:
        shape = tags_shape(request.query_params)
        return OrthancJSONResponse([reshape_tags(a, shape) for a in answers])
    return OrthancJSONResponse([str(i) for i in range(len(answers))])


# What GET /queries/{id}/answers/{n} lists, by level of the query. Orthanc 1.12 lists
# "query-study" although the route is "query-studies"; its list is kept as it is.
ANSWER_OPERATIONS = {
    "Patient": ["content", "retrieve", "query-study", "query-series", "query-instances"],
    "Study": ["content", "retrieve", "query-series", "query-instances"],
    "Series": ["content", "retrieve", "query-instances"],
    "Instance": ["content", "retrieve"],
}
ORDER = list(LEVELS.values())


async def answer_operations(request: Request) -> Response:
    row = await _query_row(request)
    _answer(row, request)
    return OrthancJSONResponse(ANSWER_OPERATIONS[row.level])


async def answer_content(request: Request) -> Response:
    answer = _answer(await _query_row(request), request)
    return OrthancJSONResponse(reshape_tags(answer, tags_shape(request.query_params)))


async def query_level(request: Request) -> Response:
    return Response((await _query_row(request)).level, media_type="text/plain")


async def query_modality(request: Request) -> Response:
    return Response((await _query_row(request)).modality, media_type="text/plain")


async def query_fields(request: Request) -> Response:
    """The fields of the query as given (not normalized), shown like the tags of an answer."""
    fields: dict[str, str] = orjson.loads((await _query_row(request)).query)
    tags: dict[str, dict[str, Any]] = {}
    for key, value in fields.items():
        tag = parse_tag(key)
        if tag is not None:
            tags[format_tag(tag)] = {"Name": keyword_for_tag(tag) or key, "Type": "String", "Value": value}
    return OrthancJSONResponse(reshape_tags(dict(sorted(tags.items())), tags_shape(request.query_params)))


def _identifiers(level: str, answer: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for keyword, tag in IDENTIFIERS[level]:
        entry = answer.get(tag)
        if entry is None or not isinstance(entry.get("Value"), str):
            raise OrthancError(
                ErrorCode.InexistentTag, f"The answer has no {keyword}, it cannot be retrieved"
            )
        found[keyword] = entry["Value"]
    return found


def _retrieved_fields(level: str, answer: dict[str, Any]) -> dict[str, str]:
    """What a retrieve job keeps of an answer (Orthanc shows it in the job's content): its text
    values, but the character set and file meta fields; it must have the identifiers of its level."""
    _identifiers(level, answer)
    return {
        tag: entry["Value"]
        for tag, entry in answer.items()
        if isinstance(entry.get("Value"), str) and tag != "0008,0005" and not tag.startswith("0002,")
    }


async def _retrieve(request: Request, row: QueryRow, answers: list[dict[str, Any]]) -> Response:
    raw = (await request.body()).strip()
    body: Any = {}
    if raw:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {"TargetAet": raw.decode("utf-8", "replace")}  # the target AET as plain text
    if isinstance(body, str):
        body = {"TargetAet": body}
    if not isinstance(body, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object or an AET")
    context = context_of(request)
    modality = await registry_for(context).get(row.modality)
    method = retrieve_method(context, body, modality)
    target = "" if method == "C-GET" else str(body.get("TargetAet") or context.settings.dicom_aet)
    queries = [{"Level": row.level, "Query": _retrieved_fields(row.level, a)} for a in answers]
    job = retrieve_job(
        modality, queries, local_aet=local_aet(context, modality), target_aet=target, method=method
    )
    return await answer_job(request, job, body)


async def retrieve_all(request: Request) -> Response:
    row = await _query_row(request)
    return await _retrieve(request, row, _answers(row))


async def retrieve_answer(request: Request) -> Response:
    row = await _query_row(request)
    return await _retrieve(request, row, [_answer(row, request)])


def _child_query(child_level: str) -> Any:
    async def refine(request: Request) -> Response:
        """A new query one level (or more) down, restricted to the resource of this answer."""
        row = await _query_row(request)
        answer = _answer(row, request)
        if ORDER.index(child_level) <= ORDER.index(row.level):
            raise OrthancError(
                ErrorCode.UnknownResource, f"A query at the {row.level} level has no child {child_level}"
            )
        body = await json_body(request, empty={})
        if not isinstance(body, dict):
            raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object")
        fields = dict(_query_fields(body.get("Query")))
        fields.update(_identifiers(row.level, answer))
        return await _run_query(request, row.modality, child_level, fields, body, parent=row)

    refine.__name__ = f"query_{child_level.lower()}"
    return refine


routes = [
    Route("/modalities/{id}/query", query, methods=["POST"]),
    Route("/queries", list_queries, methods=["GET"]),
    Route("/queries/{id}", query_operations, methods=["GET"]),
    Route("/queries/{id}", delete_query, methods=["DELETE"]),
    Route("/queries/{id}/answers", list_answers, methods=["GET"]),
    Route("/queries/{id}/answers/{index}", answer_operations, methods=["GET"]),
    Route("/queries/{id}/answers/{index}/content", answer_content, methods=["GET"]),
    Route("/queries/{id}/answers/{index}/retrieve", retrieve_answer, methods=["POST"]),
    Route("/queries/{id}/answers/{index}/query-studies", _child_query("Study"), methods=["POST"]),
    Route("/queries/{id}/answers/{index}/query-series", _child_query("Series"), methods=["POST"]),
    Route("/queries/{id}/answers/{index}/query-instances", _child_query("Instance"), methods=["POST"]),
    Route("/queries/{id}/level", query_level, methods=["GET"]),
    Route("/queries/{id}/modality", query_modality, methods=["GET"]),
    Route("/queries/{id}/query", query_fields, methods=["GET"]),
    Route("/queries/{id}/retrieve", retrieve_all, methods=["POST"]),
]
