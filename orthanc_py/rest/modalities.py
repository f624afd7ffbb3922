"""``/modalities``: remote DICOM modalities, and what the REST API asks of them: C-ECHO, C-STORE
(``DicomModalityStore`` jobs), C-MOVE / C-GET (``DicomMoveScu`` jobs) (Orthanc's
OrthancRestModalities.cpp). ``/query`` and ``/queries`` are in queries.py, the ``find*`` routes in
modality_find.py."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import orjson
import pydicom
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.context import ServerContext
from ..core.dicom_tags import DicomText, dataset_to_json
from ..core.errors import ErrorCode, OrthancError
from ..core.instances_below import instances_below
from ..core.jobs.modality_store import DicomModalityStoreJob
from ..core.jobs.move_scu import retrieve_job
from ..net import scu
from ..net.modalities import RemoteModality, registry_for
from .context_access import context_of
from .export_request import (
    optional_bool,
    optional_int,
    optional_str,
    parse_export_request,
)
from .jobs import answer_job
from .responses import OrthancJSONResponse, empty_json, empty_text

# What GET /modalities/{id} lists (Orthanc 1.12 lists the routes below it).
MODALITY_OPERATIONS = [
    "configuration", "echo", "find", "find-instance", "find-patient", "find-series", "find-study",
    "find-worklist", "get", "move", "query", "storage-commitment", "store", "store-straight",
]  # fmt: skip


async def json_body(request: Request, *, empty: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if empty is not None:
            return empty
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be JSON")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be JSON") from e


async def modality_of(request: Request, body: dict[str, Any] | None = None) -> RemoteModality:
    """The modality of the route, with the ``LocalAet`` and ``Timeout`` of the body if given."""
    modality = await registry_for(context_of(request)).get(request.path_params["id"])
    if body:
        if "LocalAet" in body:
            modality = replace(modality, local_aet=optional_str(body, "LocalAet") or None)
        if "Timeout" in body:
            modality = replace(modality, timeout=optional_int(body, "Timeout"))
    return modality


def with_destination(modality: RemoteModality, body: dict[str, Any]) -> RemoteModality:
    """``CalledAet``, ``Host`` and ``Port`` of the body override the modality's (``/store``)."""
    port = optional_int(body, "Port", modality.port)
    if not 0 < port < 65536:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Invalid TCP port: {port}")
    return replace(
        modality,
        aet=optional_str(body, "CalledAet", modality.aet),
        host=optional_str(body, "Host", modality.host),
        port=port,
    )


def local_aet(context: ServerContext, modality: RemoteModality) -> str:
    return modality.local_aet or context.settings.dicom_aet


async def list_modalities(request: Request) -> Response:
    modalities = await registry_for(context_of(request)).list()
    if "expand" in request.query_params:
        return OrthancJSONResponse({m.name: m.to_json() for m in modalities})
    return OrthancJSONResponse([m.name for m in modalities])


async def modality_operations(request: Request) -> Response:
    if await registry_for(context_of(request)).lookup(request.path_params["id"]) is None:
        return Response(status_code=404)  # as Orthanc: a bare 404
    return OrthancJSONResponse(MODALITY_OPERATIONS)


async def put_modality(request: Request) -> Response:
    name = request.path_params["id"]
    modality = RemoteModality.from_json(name, await json_body(request))
    await registry_for(context_of(request)).put(name, modality)
    return empty_text()


async def delete_modality(request: Request) -> Response:
    await registry_for(context_of(request)).delete(request.path_params["id"])
    return empty_text()


async def modality_configuration(request: Request) -> Response:
    return OrthancJSONResponse((await modality_of(request)).to_json())


async def echo(request: Request) -> Response:
    body = await json_body(request, empty={})
    if not isinstance(body, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object")
    context = context_of(request)
    modality = await modality_of(request, body)
    await scu.echo(context, modality)
    if optional_bool(body, "CheckFind", context.settings.dicom_echo_checks_find):
        await scu.find(context, modality, "Study", {"StudyInstanceUID": "1.2.3.4.5.6.7.8.9"})
    return empty_json()


async def store(request: Request) -> Response:
    context = context_of(request)
    resources, body = await parse_export_request(request)
    modality = with_destination(await modality_of(request, body), body)
    originator_id = optional_int(body, "MoveOriginatorID")
    if not 0 <= originator_id < 65536:
        raise OrthancError(ErrorCode.ParameterOutOfRange, "MoveOriginatorID must be in 0..65535")
    job = DicomModalityStoreJob(
        modality,
        [row.public_id for row in await instances_below(context, resources)],
        local_aet=local_aet(context, modality),
        move_originator_aet=optional_str(body, "MoveOriginatorAet"),
        move_originator_id=originator_id,
        transfer_syntax=optional_str(body, "Transcode"),
        description="REST API",
        permissive=optional_bool(body, "Permissive"),
        parent_resources=resources,
        storage_commitment=optional_bool(body, "StorageCommitment"),
        timeout=optional_int(body, "Timeout"),
    )
    return await answer_job(request, job, body)


async def store_straight(request: Request) -> Response:
    """C-STORE the DICOM file of the body as is, without storing it here."""
    context = context_of(request)
    modality = await modality_of(request)
    data = await request.body()
    try:
        pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception as e:
        raise OrthancError(ErrorCode.BadFileFormat, "The body is not a DICOM file") from e
    sop_class, sop_instance = await scu.store_bytes(context, modality, data)
    return OrthancJSONResponse({"SOPClassUID": sop_class, "SOPInstanceUID": sop_instance})


def retrieve_method(context: ServerContext, body: dict[str, Any], modality: RemoteModality) -> str:
    method = optional_str(body, "RetrieveMethod", "SystemDefault")
    if method == "SystemDefault":
        method = modality.retrieve_method or context.settings.dicom_default_retrieve_method
    if method not in ("C-MOVE", "C-GET"):
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Unknown retrieve method: {method}")
    return method


def _resource_queries(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    level = body.get("Level")
    resources = body.get("Resources")
    if not isinstance(level, str) or not isinstance(resources, list):
        raise OrthancError(
            ErrorCode.BadFileFormat, 'Expected the fields "Level" (string) and "Resources" (array)'
        )
    queries = []
    for item in resources:
        if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
            raise OrthancError(ErrorCode.BadFileFormat, "Each resource must be an object of strings")
        queries.append({"Level": level.capitalize(), "Query": item})
    return level, queries


async def _retrieve(request: Request, force_method: str | None) -> Response:
    """``/move`` and ``/get``: ``{"Level", "Resources": [{"StudyInstanceUID": ...}], "TargetAet"}``."""
    context = context_of(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object")
    modality = await modality_of(request, body)
    _, queries = _resource_queries(body)
    method = force_method or "C-MOVE"
    target = "" if method == "C-GET" else optional_str(body, "TargetAet") or context.settings.dicom_aet
    job = retrieve_job(
        modality, queries, local_aet=local_aet(context, modality), target_aet=target, method=method
    )
    return await answer_job(request, job, body)


async def move(request: Request) -> Response:
    return await _retrieve(request, None)


async def get(request: Request) -> Response:
    return await _retrieve(request, "C-GET")


def answer_json(dataset: pydicom.Dataset, shape: str) -> dict[str, Any]:
    return dataset_to_json(dataset, DicomText(dataset), shape)


routes = [
    Route("/modalities", list_modalities, methods=["GET"]),
    Route("/modalities/{id}", modality_operations, methods=["GET"]),
    Route("/modalities/{id}", put_modality, methods=["PUT"]),
    Route("/modalities/{id}", delete_modality, methods=["DELETE"]),
    Route("/modalities/{id}/configuration", modality_configuration, methods=["GET"]),
    Route("/modalities/{id}/echo", echo, methods=["POST"]),
    Route("/modalities/{id}/store", store, methods=["POST"]),
    Route("/modalities/{id}/store-straight", store_straight, methods=["POST"]),
    Route("/modalities/{id}/move", move, methods=["POST"]),
    Route("/modalities/{id}/get", get, methods=["POST"]),
]
