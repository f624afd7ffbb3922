"""Metadata and attachments of a resource (Orthanc's ``/{level}/{id}/metadata`` and
``/{level}/{id}/attachments`` families)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..core.enumerations import MetadataType, metadata_name
from ..core.errors import ErrorCode, OrthancError
from ..index.base import Attachment
from ..storage.base import FileContentType
from .context_access import context_of
from .resource_json import flag
from .resources import level_of
from .responses import OrthancJSONResponse, empty_text

CONTENT_TYPE_NAMES = {
    FileContentType.DICOM: "dicom",
    FileContentType.DICOM_AS_JSON: "dicom-as-json",
    FileContentType.DICOM_UNTIL_PIXEL_DATA: "dicom-until-pixel-data",
}
_CONTENT_TYPE_BY_NAME = {name: int(t) for t, name in CONTENT_TYPE_NAMES.items()}

ATTACHMENT_OPERATIONS = [
    "compress",
    "compressed-data",
    "compressed-md5",
    "compressed-size",
    "data",
    "info",
    "is-compressed",
    "md5",
    "size",
    "uncompress",
    "verify-md5",
]


def attachment_name(content_type: int) -> str:
    try:
        return CONTENT_TYPE_NAMES[FileContentType(content_type)]
    except ValueError:
        return str(content_type)


async def list_metadata(request: Request) -> Response:
    context = context_of(request)
    row = await context.lookup(level_of(request), request.path_params["id"])
    async with context.index.transaction() as tx:
        values = (await tx.get_metadata([row.internal_id]))[row.internal_id]
    numeric = flag(request.query_params, "numeric")
    key = (lambda t: str(t)) if numeric else metadata_name
    if flag(request.query_params, "expand"):
        return OrthancJSONResponse({key(t): v for t, v in sorted(values.items())})
    return OrthancJSONResponse([key(t) for t in sorted(values)])


async def _resource_and_metadata(request: Request) -> tuple[int, int]:
    """(internal id, metadata type) named by the route; an unknown name is Orthanc's InexistentItem."""
    row = await context_of(request).lookup(level_of(request), request.path_params["id"])
    try:
        return row.internal_id, MetadataType.parse(request.path_params["name"])
    except ValueError as e:
        raise OrthancError(ErrorCode.InexistentItem) from e


async def get_metadata(request: Request) -> Response:
    context = context_of(request)
    internal_id, metadata_type = await _resource_and_metadata(request)
    async with context.index.transaction() as tx:
        values = (await tx.get_metadata([internal_id], [metadata_type]))[internal_id]
    if metadata_type not in values:
        return Response(status_code=404)  # Orthanc: a known but absent metadata is a bare 404
    return PlainTextResponse(values[metadata_type])


async def _user_metadata_target(request: Request) -> tuple[int, int] | None:
    """(internal id, metadata type) of a writable metadata; None for a built-in one, which Orthanc
    refuses with a bare 403 (only user metadata, 1024-65535, may be written)."""
    internal_id, metadata_type = await _resource_and_metadata(request)
    if not 1024 <= metadata_type <= 65535:
        return None
    return internal_id, metadata_type


async def put_metadata(request: Request) -> Response:
    target = await _user_metadata_target(request)
    if target is None:
        return Response(status_code=403)
    value = (await request.body()).decode("utf-8", "replace")
    async with context_of(request).index.transaction(write=True) as tx:
        await tx.set_metadata([(*target, value)])
    return empty_text()


async def delete_metadata(request: Request) -> Response:
    target = await _user_metadata_target(request)
    if target is None:
        return Response(status_code=403)
    async with context_of(request).index.transaction(write=True) as tx:
        await tx.delete_metadata(*target)
    return empty_text()


async def _attachments(request: Request) -> list[Attachment]:
    context = context_of(request)
    row = await context.lookup(level_of(request), request.path_params["id"])
    async with context.index.transaction() as tx:
        return (await tx.get_attachments([row.internal_id]))[row.internal_id]


async def list_attachments(request: Request) -> Response:
    attachments = await _attachments(request)
    if flag(request.query_params, "full"):
        return OrthancJSONResponse({attachment_name(a.content_type): a.content_type for a in attachments})
    return OrthancJSONResponse([attachment_name(a.content_type) for a in attachments])


async def _attachment(request: Request) -> Attachment:
    name = request.path_params["name"]
    content_type = _CONTENT_TYPE_BY_NAME.get(name) or (int(name) if name.isdigit() else None)
    if content_type is None:
        raise OrthancError(ErrorCode.InexistentItem)
    for attachment in await _attachments(request):
        if attachment.content_type == content_type:
            return attachment
    raise OrthancError(ErrorCode.UnknownResource)


async def attachment_operations(request: Request) -> Response:
    await _attachment(request)
    return OrthancJSONResponse(ATTACHMENT_OPERATIONS)


async def attachment_property(request: Request) -> Response:
    attachment = await _attachment(request)
    operation = request.path_params["operation"]
    context = context_of(request)
    if operation == "data":
        data = await context.read_attachment(attachment)
        media = (
            "application/dicom"
            if attachment.content_type == FileContentType.DICOM
            else "application/octet-stream"
        )
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'filename="{attachment.uuid}"'}
        )
    if operation == "compressed-data":
        data = await context.storage.read(attachment.uuid, attachment.content_type)
        return Response(data, media_type="application/octet-stream")
    if operation == "info":
        return OrthancJSONResponse(
            {
                "CompressedMD5": attachment.compressed_md5,
                "CompressedSize": attachment.compressed_size,
                "ContentType": attachment.content_type,
                "UncompressedMD5": attachment.uncompressed_md5,
                "UncompressedSize": attachment.uncompressed_size,
                "Uuid": attachment.uuid,
            }
        )
    simple = {
        "size": str(attachment.uncompressed_size),
        "compressed-size": str(attachment.compressed_size),
        "md5": attachment.uncompressed_md5,
        "compressed-md5": attachment.compressed_md5,
        "is-compressed": "1" if attachment.compression != 1 else "0",
    }
    if operation not in simple:
        raise OrthancError(ErrorCode.UnknownResource)
    return PlainTextResponse(simple[operation])


_BASE = "/{level:level}/{id}"

routes = [
    Route(f"{_BASE}/metadata", list_metadata, methods=["GET"]),
    Route(f"{_BASE}/metadata/{{name}}", get_metadata, methods=["GET"]),
    Route(f"{_BASE}/metadata/{{name}}", put_metadata, methods=["PUT"]),
    Route(f"{_BASE}/metadata/{{name}}", delete_metadata, methods=["DELETE"]),
    Route(f"{_BASE}/attachments", list_attachments, methods=["GET"]),
    Route(f"{_BASE}/attachments/{{name}}", attachment_operations, methods=["GET"]),
    Route(f"{_BASE}/attachments/{{name}}/{{operation}}", attachment_property, methods=["GET"]),
]
