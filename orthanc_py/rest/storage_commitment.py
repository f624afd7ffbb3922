"""Storage commitment over REST (Orthanc's OrthancRestModalities.cpp, its last part):
``POST /modalities/{id}/storage-commitment`` asks a modality, ``GET /storage-commitment/{id}``
shows the report, ``POST /storage-commitment/{id}/remove`` deletes what the modality committed to.
The DICOM side is ``net/storage_commitment.py``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.dicom_tags import TAG_SOP_INSTANCE_UID
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..net.modalities import registry_for
from ..net.storage_commitment import load_report, request_commitment, stored_instances
from .context_access import context_of
from .find import json_object
from .responses import OrthancJSONResponse

RESOURCES = "Resources"
DICOM_INSTANCES = "DicomInstances"


def _dicom_instances(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise OrthancError(
            ErrorCode.BadFileFormat, f'The "{DICOM_INSTANCES}" field must provide an array of DICOM instances'
        )
    pairs = []
    for item in value:
        if isinstance(item, list):
            if len(item) != 2 or not all(isinstance(v, str) for v in item):
                raise OrthancError(
                    ErrorCode.BadFileFormat,
                    "An instance entry must provide an array with 2 strings: "
                    "SOP Class UID and SOP Instance UID",
                )
            pairs.append((item[0], item[1]))
        elif isinstance(item, dict):
            sop_class, sop_instance = item.get("SOPClassUID"), item.get("SOPInstanceUID")
            if not isinstance(sop_class, str) or not isinstance(sop_instance, str):
                raise OrthancError(
                    ErrorCode.BadFileFormat,
                    'An instance entry must provide an object with 2 string fiels: "SOPClassUID" and '
                    '"SOPInstanceUID',
                )
            pairs.append((sop_class, sop_instance))
        else:
            raise OrthancError(
                ErrorCode.BadFileFormat,
                f"JSON array or object is expected to specify one instance to be queried, found: {item}",
            )
    return pairs


async def request(request: Request) -> Response:
    context = context_of(request)
    try:
        body = await json_object(request)
    except OrthancError:
        raise OrthancError(
            ErrorCode.BadFileFormat, "Must provide a JSON object with a list of resources"
        ) from None
    if RESOURCES not in body and DICOM_INSTANCES not in body:
        raise OrthancError(
            ErrorCode.BadFileFormat,
            f'Empty storage commitment request, one of these fields is mandatory: "{RESOURCES}" or '
            f'"{DICOM_INSTANCES}"',
        )
    instances: list[tuple[str, str]] = []
    if RESOURCES in body:
        resources = body[RESOURCES]
        if not isinstance(resources, list):
            raise OrthancError(
                ErrorCode.BadFileFormat, f'The "{RESOURCES}" field must provide an array of Orthanc resources'
            )
        if not all(isinstance(r, str) for r in resources):
            raise OrthancError(
                ErrorCode.BadFileFormat, f'The "{RESOURCES}" field must provide an array of strings'
            )
        instances += await stored_instances(context, resources)
    if DICOM_INSTANCES in body:
        instances += _dicom_instances(body[DICOM_INSTANCES])
    timeout = body.get("Timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)):
        raise OrthancError(ErrorCode.BadFileFormat, 'Field "Timeout" must be a number', http_status=400)
    modality = await registry_for(context).get(request.path_params["id"])
    transaction_uid = await request_commitment(context, modality, instances, timeout)
    return OrthancJSONResponse({"ID": transaction_uid, "Path": f"/storage-commitment/{transaction_uid}"})


async def report(request: Request) -> Response:
    found = await load_report(context_of(request), request.path_params["id"])
    return OrthancJSONResponse(found.to_json())


async def remove(request: Request) -> Response:
    context = context_of(request)
    transaction_uid = request.path_params["id"]
    found = await load_report(context, transaction_uid)
    if found.status != "Success":
        raise OrthancError(
            ErrorCode.BadSequenceOfCalls,
            "Cannot remove DICOM instances after failure in storage commitment transaction: "
            + transaction_uid,
            http_status=400,  # Orthanc answers 500 to this client error
        )
    for _, sop_instance in found.success:
        async with context.index.transaction() as tx:
            rows = await tx.lookup_identifier(ResourceLevel.INSTANCE, TAG_SOP_INSTANCE_UID, sop_instance)
        for row in rows:
            await context.delete_resource(ResourceLevel.INSTANCE, row.public_id)
    return OrthancJSONResponse({})


routes = [
    Route("/modalities/{id}/storage-commitment", request, methods=["POST"]),
    Route("/storage-commitment/{id}", report, methods=["GET"]),
    Route("/storage-commitment/{id}/remove", remove, methods=["POST"]),
]
