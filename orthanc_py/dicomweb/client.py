"""The DICOMweb client: ``POST /dicom-web/servers/{name}/{qido|get|wado|stow|retrieve}``.

``qido``, ``get`` and ``wado`` forward a GET (``Uri`` relative to the server's URL, ``Arguments``
as the query string, ``HttpHeaders``) and answer what the remote server sent. ``stow`` sends the
instances of Orthanc resources (``Resources``: IDs of patients, studies, series or instances) in
one STOW-RS request; ``retrieve`` fetches ``Resources`` (``[{"Study": uid, "Series": [uids]}]``)
with WADO-RS and stores them. Both run synchronously and answer a summary.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..core.context import RequestOrigin, ServerContext
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.requested_tags import descendants
from ..index.base import ResourceRow
from ..rest.responses import OrthancJSONResponse
from .multipart import new_boundary, parse_media_type, parse_multipart
from .servers import RemoteServer, server_named

logger = logging.getLogger(__name__)


async def _body(request: Request) -> dict[str, Any]:
    try:
        value = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "The body must contain a JSON object")
    return value


def _session(server: RemoteServer, request: Request, extra_headers: Any) -> aiohttp.ClientSession:
    settings = request.app.state.context.settings
    timeout = server.timeout or settings.http_timeout or 60
    auth = aiohttp.BasicAuth(server.username, server.password or "") if server.username else None
    headers = dict(server.http_headers)
    if isinstance(extra_headers, dict):
        headers.update({str(k): str(v) for k, v in extra_headers.items()})
    connector = aiohttp.TCPConnector(ssl=bool(settings.https_verify_peers))
    return aiohttp.ClientSession(
        auth=auth, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout), connector=connector
    )


def _remote_error(e: Exception, url: str) -> OrthancError:
    return OrthancError(ErrorCode.NetworkProtocol, f"Cannot reach the DICOMweb server at {url}: {e}")


async def _forward_get(request: Request, accept: str | None) -> Response:
    server = await server_named(request, request.path_params["name"])
    body = await _body(request)
    uri = body.get("Uri")
    if not isinstance(uri, str):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "Uri" is missing or is not a string')
    arguments = body.get("Arguments") or {}
    url = server.url + uri.lstrip("/")
    headers = {"Accept": accept} if accept else {}
    try:
        async with _session(server, request, body.get("HttpHeaders")) as session:
            async with session.get(
                url, params={str(k): str(v) for k, v in arguments.items()}, headers=headers
            ) as r:
                content = await r.read()
                if r.status >= 400:
                    raise OrthancError(
                        ErrorCode.NetworkProtocol, f"The DICOMweb server answered HTTP {r.status} to {url}"
                    )
                media = r.headers.get("Content-Type", "application/octet-stream")
    except aiohttp.ClientError as e:
        raise _remote_error(e, url) from e
    return Response(content, media_type=media)


async def qido(request: Request) -> Response:
    answer = await _forward_get(request, "application/dicom+json")
    return Response(answer.body, media_type="application/json")


async def get(request: Request) -> Response:
    return await _forward_get(request, None)


async def wado(request: Request) -> Response:
    return await _forward_get(request, None)


# --------------------------------------------------------------------------- STOW-RS client


async def _instances_of_resources(context: ServerContext, ids: list[str]) -> list[ResourceRow]:
    instances: list[ResourceRow] = []
    async with context.index.transaction() as tx:
        for public_id in ids:
            row = await tx.lookup(public_id)
            if row is None:
                raise OrthancError(ErrorCode.UnknownResource, f"Unknown resource: {public_id}")
            if row.level is ResourceLevel.INSTANCE:
                instances.append(row)
            else:
                below = await descendants(tx, [row.internal_id], ResourceLevel.INSTANCE - row.level)
                instances.extend(below[row.internal_id])
    return instances


async def stow(request: Request) -> Response:
    context: ServerContext = request.app.state.context
    server = await server_named(request, request.path_params["name"])
    body = await _body(request)
    resources = body.get("Resources")
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "Resources" must be a list of Orthanc IDs')
    instances = await _instances_of_resources(context, resources)
    boundary = new_boundary()
    parts = []
    for row in instances:
        data = await context.read_dicom_of(row.internal_id)
        parts.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n")
    payload = b"".join(parts) + f"--{boundary}--\r\n".encode()
    url = server.url + "studies"
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    try:
        async with _session(server, request, body.get("HttpHeaders")) as session:
            async with session.post(
                url, data=payload, headers={"Content-Type": content_type, "Accept": "application/dicom+json"}
            ) as r:
                await r.read()
                if r.status >= 400:
                    raise OrthancError(
                        ErrorCode.NetworkProtocol, f"The STOW-RS server answered HTTP {r.status} ({url})"
                    )
    except aiohttp.ClientError as e:
        raise _remote_error(e, url) from e
    return OrthancJSONResponse({"Resources": resources, "Instances": len(instances)})


# --------------------------------------------------------------------------- WADO-RS retrieve


async def retrieve(request: Request) -> Response:
    context: ServerContext = request.app.state.context
    server = await server_named(request, request.path_params["name"])
    body = await _body(request)
    resources = body.get("Resources")
    if not isinstance(resources, list) or not all(isinstance(r, dict) and "Study" in r for r in resources):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "Resources" must list {"Study": uid, ...}')
    paths = []
    for resource in resources:
        study = f"studies/{resource['Study']}"
        series = resource.get("Series") or []
        paths += [f"{study}/series/{s}" for s in series] if series else [study]
    stored: list[str] = []
    origin = RequestOrigin(origin="RestApi", remote_ip=request.client.host if request.client else None)
    try:
        async with _session(server, request, body.get("HttpHeaders")) as session:
            for path in paths:
                accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
                async with session.get(server.url + path, headers={"Accept": accept}) as r:
                    content = await r.read()
                    if r.status >= 400:
                        raise OrthancError(
                            ErrorCode.NetworkProtocol, f"The WADO-RS server answered HTTP {r.status} ({path})"
                        )
                    _, params = parse_media_type(r.headers.get("Content-Type", ""))
                for part in parse_multipart(content, params.get("boundary", "")):
                    result = await context.store(part.data, origin)
                    stored.append(result.public_ids[ResourceLevel.INSTANCE])
    except aiohttp.ClientError as e:
        raise _remote_error(e, server.url) from e
    return OrthancJSONResponse({"Instances": stored, "InstancesCount": len(stored)})
