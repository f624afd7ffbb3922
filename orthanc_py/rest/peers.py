"""``/peers``: other Orthanc servers (Orthanc's OrthancRestModalities.cpp, the peers part)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.errors import ErrorCode, OrthancError
from ..core.instances_below import instances_below
from ..core.jobs.peer_store import OrthancPeerStoreJob
from ..peers.client import PeerClient
from ..peers.registry import OrthancPeer, peers_of
from .context_access import context_of
from .export_request import optional_bool, optional_str, parse_export_request
from .jobs import answer_job
from .responses import OrthancJSONResponse, empty_text

# What GET /peers/{id} lists (Orthanc lists the routes below it).
PEER_OPERATIONS = ["configuration", "store", "store-straight", "system"]


async def list_peers(request: Request) -> Response:
    peers = await peers_of(context_of(request)).list()
    if "expand" in request.query_params:
        return OrthancJSONResponse({peer.name: peer.public_json() for peer in peers})
    return OrthancJSONResponse([peer.name for peer in peers])


async def peer_operations(request: Request) -> Response:
    names = [peer.name for peer in await peers_of(context_of(request)).list()]
    if request.path_params["id"] not in names:
        return Response(status_code=404)  # as Orthanc: a bare 404
    return OrthancJSONResponse(PEER_OPERATIONS)


async def put_peer(request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as e:
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON array or object") from e
    peer = OrthancPeer.from_json(request.path_params["id"], body)
    await peers_of(context_of(request)).put(peer)
    return empty_text()


async def delete_peer(request: Request) -> Response:
    await peers_of(context_of(request)).delete(request.path_params["id"])
    return empty_text()


async def peer_configuration(request: Request) -> Response:
    peer = await peers_of(context_of(request)).get(request.path_params["id"])
    return OrthancJSONResponse(peer.public_json())


async def peer_system(request: Request) -> Response:
    context = context_of(request)
    peer = await peers_of(context).get(request.path_params["id"])
    async with PeerClient(peer, context.settings) as client:
        return OrthancJSONResponse(await client.get_json("system"))


async def store_to_peer(request: Request) -> Response:
    context = context_of(request)
    peer = await peers_of(context).get(request.path_params["id"])
    resources, body = await parse_export_request(request)
    if optional_str(body, "Transcode"):
        raise OrthancError(ErrorCode.NotImplemented, "Transcoding before sending to a peer is not supported")
    job = OrthancPeerStoreJob(
        peer,
        [row.public_id for row in await instances_below(context, resources)],
        description="REST API",
        permissive=optional_bool(body, "Permissive"),
        parent_resources=resources,
    )
    return await answer_job(request, job, body)


async def store_straight_to_peer(request: Request) -> Response:
    """Send the DICOM file of the body to the peer as is; answer what the peer answered."""
    context = context_of(request)
    peer = await peers_of(context).get(request.path_params["id"])
    async with PeerClient(peer, context.settings) as client:
        answer: Any = await client.store(await request.body())
    return OrthancJSONResponse(answer)


routes = [
    Route("/peers", list_peers, methods=["GET"]),
    Route("/peers/{id}", peer_operations, methods=["GET"]),
    Route("/peers/{id}", put_peer, methods=["PUT"]),
    Route("/peers/{id}", delete_peer, methods=["DELETE"]),
    Route("/peers/{id}/configuration", peer_configuration, methods=["GET"]),
    Route("/peers/{id}/system", peer_system, methods=["GET"]),
    Route("/peers/{id}/store", store_to_peer, methods=["POST"]),
    Route("/peers/{id}/store-straight", store_straight_to_peer, methods=["POST"]),
]
