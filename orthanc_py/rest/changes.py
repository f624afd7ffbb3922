"""``/changes`` and ``/exports`` (Orthanc's OrthancRestChanges.cpp)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.enumerations import ChangeType
from ..index.base import Change
from .context_access import context_of
from .resources import parse_int
from .responses import OrthancJSONResponse, empty_json

# Orthanc caps one page of /changes at 10000 and defaults to 100.
MAX_CHANGES = 10000
DEFAULT_CHANGES = 100


def change_json(change: Change) -> dict[str, object]:
    return {
        "ChangeType": ChangeType(change.change_type).orthanc_name,
        "Date": change.date,
        "ID": change.public_id,
        "Path": f"/{change.level.plural}/{change.public_id}",
        "ResourceType": change.level.title,
        "Seq": change.seq,
    }


async def get_changes(request: Request) -> Response:
    context = context_of(request)
    params = request.query_params
    async with context.index.transaction() as tx:
        if "last" in params:
            last = await tx.get_last_change()
            changes = [last] if last is not None else []
            return OrthancJSONResponse(
                {"Changes": [change_json(c) for c in changes], "Done": True, "Last": last.seq if last else 0}
            )
        since = parse_int(params, "since")
        limit = min(parse_int(params, "limit", DEFAULT_CHANGES), MAX_CHANGES)
        changes, done, last_seq = await tx.get_changes(since, limit)
        if done and not changes:
            last_seq = max(since, await tx.get_last_change_seq()) if since == 0 else since
    return OrthancJSONResponse({"Changes": [change_json(c) for c in changes], "Done": done, "Last": last_seq})


async def delete_changes(request: Request) -> Response:
    context = context_of(request)
    async with context.index.transaction(write=True) as tx:
        await tx.clear_changes()
    return empty_json()


async def get_exports(request: Request) -> Response:
    # Exports are logged by jobs that send resources to modalities or peers; none exist yet.
    return OrthancJSONResponse({"Done": True, "Exports": [], "Last": 0})


async def delete_exports(request: Request) -> Response:
    return empty_json()


routes = [
    Route("/changes", get_changes, methods=["GET"]),
    Route("/changes", delete_changes, methods=["DELETE"]),
    Route("/exports", get_exports, methods=["GET"]),
    Route("/exports", delete_exports, methods=["DELETE"]),
]
