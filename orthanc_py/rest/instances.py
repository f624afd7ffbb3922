"""``/instances``: upload, the DICOM file, its tags in Orthanc's JSON shapes, and raw content."""

from __future__ import annotations

import io
import logging
import zipfile
from typing import Any

from pydicom.dataset import Dataset
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.context import RequestOrigin, StoreResult
from ..core.dicom_tags import DicomText, dataset_to_json, format_tag, parse_tag
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.ingest import read_dataset
from .context_access import context_of
from .resource_json import flag
from .responses import OrthancJSONResponse

logger = logging.getLogger(__name__)


def origin_of(request: Request) -> RequestOrigin:
    client = request.client
    return RequestOrigin(
        origin="RestApi",
        remote_ip=client.host if client else None,
        http_username=request.scope.get("orthanc.username"),
    )


def store_answer(result: StoreResult) -> dict[str, Any]:
    ids = result.public_ids
    return {
        "ID": ids[ResourceLevel.INSTANCE],
        "ParentPatient": ids[ResourceLevel.PATIENT],
        "ParentStudy": ids[ResourceLevel.STUDY],
        "ParentSeries": ids[ResourceLevel.SERIES],
        "Path": f"/instances/{ids[ResourceLevel.INSTANCE]}",
        "Status": result.status,
    }


def _zip_members(body: bytes) -> list[bytes] | None:
    if not body.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return [archive.read(info) for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise OrthancError(ErrorCode.BadFileFormat, f"Cannot read the ZIP archive: {e}") from e


async def upload_instances(request: Request) -> Response:
    """POST /instances: one DICOM file, or a ZIP archive of DICOM files (a list of answers)."""
    context = context_of(request)
    body = await request.body()
    origin = origin_of(request)
    members = await context.run_cpu(_zip_members, body) if body.startswith(b"PK") else None
    if members is None:
        if not body:
            raise OrthancError(ErrorCode.BadFileFormat, "Empty request body")
        result = await context.store(body, origin)
        return OrthancJSONResponse(store_answer(result))
    answers = []
    for member in members:
        try:
            answers.append(store_answer(await context.store(member, origin)))
        except OrthancError as e:
            # Orthanc skips the files of an archive that are not DICOM.
            logger.info("Skipping a file of the ZIP archive: %s", e.details or e.message)
    return OrthancJSONResponse(answers)


async def _dataset(request: Request, *, stop_before_pixels: bool = True) -> Dataset:
    context = context_of(request)
    data = await context.read_dicom(request.path_params["id"])
    return await context.run_cpu(lambda: read_dataset(data, stop_before_pixels=stop_before_pixels))


def tags_shape(params: Any, default: str = "full") -> str:
    if flag(params, "simplify"):
        return "simplify"
    if flag(params, "short"):
        return "short"
    return default


async def get_file(request: Request) -> Response:
    context = context_of(request)
    public_id = request.path_params["id"]
    data = await context.read_dicom(public_id)
    return Response(data, media_type="application/dicom")


async def get_tags(request: Request) -> Response:
    dataset = await _dataset(request)
    shape = tags_shape(request.query_params)
    return OrthancJSONResponse(await context_of(request).run_cpu(_to_json, dataset, shape))


async def get_simplified_tags(request: Request) -> Response:
    dataset = await _dataset(request)
    return OrthancJSONResponse(await context_of(request).run_cpu(_to_json, dataset, "simplify"))


def _to_json(dataset: Dataset, shape: str) -> dict[str, Any]:
    return dataset_to_json(dataset, DicomText(dataset), shape)


async def get_header(request: Request) -> Response:
    dataset = await _dataset(request)
    meta = getattr(dataset, "file_meta", None) or Dataset()
    shape = tags_shape(request.query_params)
    return OrthancJSONResponse(dataset_to_json(meta, DicomText(meta), shape))


async def get_content(request: Request) -> Response:
    """``/instances/{id}/content/{group-element}/{index}/…``: browse the raw dataset."""
    path = [p for p in request.path_params.get("path", "").split("/") if p]
    dataset: Any = await _dataset(request, stop_before_pixels=False)
    text = DicomText(dataset)
    i = 0
    while i < len(path):
        tag = parse_tag(path[i])
        if tag is None or not isinstance(dataset, Dataset) or tag not in dataset:
            raise OrthancError(ErrorCode.UnknownResource)
        element = dataset[tag]
        if element.VR == "SQ":
            if i + 1 == len(path):
                return OrthancJSONResponse([str(n) for n in range(len(element.value))])
            try:
                index = int(path[i + 1])
                dataset = element.value[index]
            except (ValueError, IndexError) as e:
                raise OrthancError(ErrorCode.UnknownResource) from e
            i += 2
            continue
        if i + 1 != len(path):
            raise OrthancError(ErrorCode.UnknownResource)
        value = text.string_value(tag, element)
        if value is None:
            raw = element.value if isinstance(element.value, bytes) else b""
            return Response(raw, media_type="application/octet-stream")
        return Response(value.encode("utf-8"), media_type="text/plain")
    return OrthancJSONResponse([format_tag(int(t)).replace(",", "-") for t in dataset.keys()])


routes = [
    Route("/instances", upload_instances, methods=["POST"]),
    Route("/instances/{id}/file", get_file, methods=["GET"]),
    Route("/instances/{id}/tags", get_tags, methods=["GET"]),
    Route("/instances/{id}/simplified-tags", get_simplified_tags, methods=["GET"]),
    Route("/instances/{id}/header", get_header, methods=["GET"]),
    Route("/instances/{id}/content", get_content, methods=["GET"]),
    Route("/instances/{id}/content/{path:path}", get_content, methods=["GET"]),
]
