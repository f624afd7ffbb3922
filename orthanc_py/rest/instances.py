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
from ..core.dicom_tags import TAG_PIXEL_DATA, DicomText, dataset_to_json, format_tag, parse_tag
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.ingest import read_dataset
from ..core.transcoding import transcode
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
            raise OrthancError(ErrorCode.BadFileFormat, "Received an empty DICOM file")
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
    """The DICOM file as stored, or transcoded with ``?transcode=<transfer syntax UID>``."""
    context = context_of(request)
    public_id = request.path_params["id"]
    data = await context.read_dicom(public_id)
    target = request.query_params.get("transcode")
    if target:
        data = await context.run_cpu(transcode, data, target)
    filename = request.query_params.get("filename") or f"{public_id}.dcm"
    return Response(
        data, media_type="application/dicom", headers={"Content-Disposition": f'filename="{filename}"'}
    )


async def get_tags(request: Request) -> Response:
    return await _tags_answer(request, tags_shape(request.query_params))


async def get_simplified_tags(request: Request) -> Response:
    return await _tags_answer(request, "simplify")


async def _tags_answer(request: Request, shape: str) -> Response:
    context = context_of(request)
    data = await context.read_dicom(request.path_params["id"])
    return OrthancJSONResponse(await context.run_cpu(instance_tags_json, data, shape))


def instance_tags_json(data: bytes, shape: str) -> dict[str, Any]:
    """Orthanc's ``/tags`` of a DICOM file: the dataset without its pixels, then a null Pixel Data."""
    stream = io.BytesIO(data)
    dataset = read_dataset(data, stream=stream)
    answer = dataset_to_json(dataset, DicomText(dataset), shape)
    if data[stream.tell() : stream.tell() + 4] in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):
        key = "PixelData" if shape == "simplify" else format_tag(TAG_PIXEL_DATA)
        answer[key] = {"Name": "PixelData", "Type": "Null", "Value": None} if shape == "full" else None
    return answer


async def get_header(request: Request) -> Response:
    dataset = await _dataset(request)
    meta = getattr(dataset, "file_meta", None) or Dataset()
    shape = tags_shape(request.query_params)
    return OrthancJSONResponse(dataset_to_json(meta, DicomText(meta), shape, skip_binary=True))


async def get_content(request: Request) -> Response:
    """``/instances/{id}/content/{group-element}/{index}/…``: browse the raw dataset.

    Orthanc answers leaf values as their raw bytes (padding and character set untouched),
    sequences and Pixel Data as the list of their item (frame) indexes.
    """
    path = [p for p in request.path_params.get("path", "").split("/") if p]
    dataset: Any = await _dataset(request, stop_before_pixels=False)
    i = 0
    while i < len(path):
        tag = parse_tag(path[i])
        if tag is None:
            # Orthanc answers 500 to a malformed tag; it is the client's mistake, hence 400.
            raise OrthancError(ErrorCode.UnknownDicomTag, path[i], http_status=400)
        if tag not in dataset:
            return Response(status_code=404)
        element = dataset.get_item(tag)
        items: list[Any] | None = None
        if tag == TAG_PIXEL_DATA:
            items = _pixel_data_items(dataset)
        elif getattr(element, "VR", None) == "SQ" or (element.VR is None and dataset[tag].VR == "SQ"):
            items = list(dataset[tag].value)
        if items is not None:
            if i + 1 == len(path):
                return OrthancJSONResponse([str(n) for n in range(len(items))])
            try:
                item = items[int(path[i + 1])]
            except (ValueError, IndexError):
                return Response(status_code=404)
            if isinstance(item, bytes):
                if i + 2 != len(path):
                    raise OrthancError(ErrorCode.UnknownResource)
                return Response(item, media_type="application/octet-stream")
            dataset = item
            i += 2
            continue
        if i + 1 != len(path):
            raise OrthancError(ErrorCode.UnknownResource)
        return Response(_raw_bytes(dataset, tag, element), media_type="application/octet-stream")
    return OrthancJSONResponse([format_tag(int(t)).replace(",", "-") for t in dataset.keys()])


def _raw_bytes(dataset: Dataset, tag: int, element: Any) -> bytes:
    value = element.value
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    # An element pydicom already converted: write it back as it is encoded in the file.
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = True
    write_data_element(buffer, dataset[tag])
    return bytes(buffer.getvalue()[8:])


def _pixel_data_items(dataset: Dataset) -> list[bytes]:
    """Frames of the Pixel Data: fragments grouped per frame when encapsulated, slices if native."""
    pixels = dataset.get_item(TAG_PIXEL_DATA).value or b""
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if (
        getattr(dataset, "file_meta", None) is not None
        and dataset.file_meta.get("TransferSyntaxUID")
        and (dataset.file_meta.TransferSyntaxUID.is_compressed)
    ):
        from pydicom.encaps import generate_frames

        return list(generate_frames(pixels, number_of_frames=frames))
    size = len(pixels) // max(frames, 1)
    return [pixels[k * size : (k + 1) * size] for k in range(frames)]


async def get_frames(request: Request) -> Response:
    """The frame indexes of an instance: ``[0, …, NumberOfFrames - 1]``."""
    context = context_of(request)
    row = await context.lookup(ResourceLevel.INSTANCE, request.path_params["id"])
    async with context.index.transaction() as tx:
        tags = (await tx.get_main_tags([row.internal_id]))[row.internal_id]
    try:
        count = max(1, int(tags.get(0x00280008, "1").strip() or 1))
    except ValueError:
        count = 1
    return OrthancJSONResponse(list(range(count)))


routes = [
    Route("/instances", upload_instances, methods=["POST"]),
    Route("/instances/{id}/frames", get_frames, methods=["GET"]),
    Route("/instances/{id}/file", get_file, methods=["GET"]),
    Route("/instances/{id}/tags", get_tags, methods=["GET"]),
    Route("/instances/{id}/simplified-tags", get_simplified_tags, methods=["GET"]),
    Route("/instances/{id}/header", get_header, methods=["GET"]),
    Route("/instances/{id}/content", get_content, methods=["GET"]),
    Route("/instances/{id}/content/{path:path}", get_content, methods=["GET"]),
]
