"""``/modalities``: remote DICOM modalities, and what the REST API asks of them: C-ECHO, C-STORE
(``DicomModalityStore`` jobs), C-MOVE / C-GET (``DicomMoveScu`` jobs) and the older ``find-*``
routes (Orthanc's OrthancRestModalities.cpp). ``/query`` and ``/queries`` are in queries.py."""

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
from ..core.jobs.modality_store import DicomModalityStoreJob
from ..core.jobs.move_scu import DicomMoveScuJob
from ..net import scu
from ..net.modalities import RemoteModality, registry_for
from .context_access import context_of
from .export_request import (
    child_instances,
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
    modality = await modality_of(request, body)
    if optional_bool(body, "StorageCommitment"):
        raise OrthancError(ErrorCode.NotImplemented, "Storage commitment with a C-STORE job is not supported")
    originator_id = optional_int(body, "MoveOriginatorID")
    if not 0 <= originator_id < 65536:
        raise OrthancError(ErrorCode.ParameterOutOfRange, "MoveOriginatorID must be in 0..65535")
    job = DicomModalityStoreJob(
        modality,
        await child_instances(context, resources),
        local_aet=local_aet(context, modality),
        move_originator_aet=optional_str(body, "MoveOriginatorAet"),
        move_originator_id=originator_id,
        transfer_syntax=optional_str(body, "Transcode"),
        description="REST API",
        permissive=optional_bool(body, "Permissive"),
        parent_resources=resources,
    )
    return await answer_job(request, job, body)


class _OneFile:
    """What the C-STORE client reads from: the body of ``store-straight``, not a stored instance."""

    def __init__(self, context: ServerContext, data: bytes) -> None:
        self.settings = context.settings
        self.data = data

    async def read_dicom(self, public_id: str) -> bytes:
        return self.data


async def store_straight(request: Request) -> Response:
    """C-STORE the DICOM file of the body as is, without storing it here."""
    context = context_of(request)
    modality = await modality_of(request)
    data = await request.body()
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        sop_class, sop_instance = str(dataset.SOPClassUID), str(dataset.SOPInstanceUID)
    except Exception as e:
        raise OrthancError(ErrorCode.BadFileFormat, "The body is not a DICOM file") from e
    await scu.store(_OneFile(context, data), modality, ["body"])  # type: ignore[arg-type]
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
    job = DicomMoveScuJob(
        modality, queries, local_aet=local_aet(context, modality), target_aet=target, method=method
    )
    return await answer_job(request, job, body)


async def move(request: Request) -> Response:
    return await _retrieve(request, None)


async def get(request: Request) -> Response:
    return await _retrieve(request, "C-GET")


def answer_json(dataset: pydicom.Dataset, shape: str) -> dict[str, Any]:
    return dataset_to_json(dataset, DicomText(dataset), shape)


def _find_route(level: str) -> Any:
    async def find(request: Request) -> Response:
        """The older C-FIND routes: the answers, simplified (Orthanc's DicomFind*)."""
        context = context_of(request)
        body = await json_body(request)
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object of strings")
        modality = await modality_of(request)
        answers = await scu.find(context, modality, level, body)
        return OrthancJSONResponse([answer_json(a, "simplify") for a in answers])

    find.__name__ = f"find_{level.lower()}"
    return find


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
    Route("/modalities/{id}/find-patient", _find_route("Patient"), methods=["POST"]),
    Route("/modalities/{id}/find-study", _find_route("Study"), methods=["POST"]),
    Route("/modalities/{id}/find-series", _find_route("Series"), methods=["POST"]),
    Route("/modalities/{id}/find-instance", _find_route("Instance"), methods=["POST"]),
]
