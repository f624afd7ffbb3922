"""The DICOMweb client: ``POST /dicom-web/servers/{name}/{qido|get|wado|stow|retrieve}``.

``qido``, ``get`` and ``wado`` forward a GET (``Uri`` relative to the server's URL, ``Arguments``
as the query string, ``HttpHeaders``) and answer what the remote server sent. ``stow`` sends the
instances of Orthanc resources (``Resources``: IDs of patients, studies, series or instances) with
STOW-RS; ``retrieve`` fetches ``Resources`` (``[{"Study": uid, "Series": [uids]}]``) with WADO-RS
and stores them. Both are jobs (core/jobs/dicomweb_client.py), run synchronously unless the body
has ``"Synchronous": false``, then answered with the job's ID.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..core.context import ServerContext
from ..core.errors import ErrorCode, OrthancError
from ..core.instances_below import instances_below
from ..core.jobs.dicomweb_client import (
    DicomWebRetrieveClientJob,
    DicomWebStowClientJob,
    http_session,
    retrieve_paths,
)
from ..rest.jobs import answer_job
from .servers import server_named

logger = logging.getLogger(__name__)


async def _body(request: Request) -> dict[str, Any]:
    try:
        value = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "The body must contain a JSON object")
    return value


def _headers(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


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
        settings = request.app.state.context.settings
        async with http_session(settings, server, _headers(body.get("HttpHeaders"))) as session:
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


async def stow(request: Request) -> Response:
    """A ``DicomWebStowClient`` job; synchronous unless the body says otherwise, as in the plugin."""
    context: ServerContext = request.app.state.context
    name = request.path_params["name"]
    server = await server_named(request, name)
    body = await _body(request)
    resources = body.get("Resources")
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "Resources" must be a list of Orthanc IDs')
    instances = await instances_below(context, resources)
    job = DicomWebStowClientJob(
        name,
        server,
        [r.public_id for r in instances],
        resources=resources,
        http_headers=body.get("HttpHeaders"),
    )
    return await answer_job(request, job, body)


# --------------------------------------------------------------------------- WADO-RS retrieve


async def retrieve(request: Request) -> Response:
    """A ``DicomWebRetrieveClient`` job storing the studies or series given, as in the plugin."""
    name = request.path_params["name"]
    server = await server_named(request, name)
    body = await _body(request)
    paths = retrieve_paths(body.get("Resources"))
    job = DicomWebRetrieveClientJob(name, server, paths, http_headers=body.get("HttpHeaders"))
    return await answer_job(request, job, body)
