"""``/changes`` and ``/exports`` (Orthanc's OrthancRestChanges.cpp)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.enumerations import ChangeType
from ..index.base import Change
from .context_access import context_of
from .responses import OrthancJSONResponse, empty_text

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


def _lenient_int(params: object, name: str, default: int) -> int:
    """/changes ignores malformed numbers, as Orthanc does (it falls back to the default)."""
    try:
        value = int(params.get(name, default))  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return default
    return value if value >= 0 else default


def changes_answer(changes: list[Change], done: bool, last_seq: int) -> dict[str, object]:
    """Orthanc's page of changes: ``First``/``Last`` bound the page; an empty page gives the last
    sequence number ever allocated as ``Last`` (cleared changes included) and no ``First``."""
    answer: dict[str, object] = {"Changes": [change_json(c) for c in changes], "Done": done}
    if changes:
        answer["First"] = changes[0].seq
        answer["Last"] = changes[-1].seq
    else:
        answer["Last"] = last_seq
    return answer


async def get_changes(request: Request) -> Response:
    context = context_of(request)
    params = request.query_params
    async with context.index.transaction() as tx:
        if "last" in params:
            last = await tx.get_last_change()
            return OrthancJSONResponse(
                changes_answer([last] if last else [], True, await tx.get_last_change_seq())
            )
        since = _lenient_int(params, "since", 0)
        limit = min(_lenient_int(params, "limit", DEFAULT_CHANGES), MAX_CHANGES)
        changes, done, _ = await tx.get_changes(since, limit)
        last_seq = 0 if changes else await tx.get_last_change_seq()
    return OrthancJSONResponse(changes_answer(changes, done, last_seq))


async def delete_changes(request: Request) -> Response:
    context = context_of(request)
    async with context.index.transaction(write=True) as tx:
        await tx.clear_changes()
    return empty_text()


async def get_exports(request: Request) -> Response:
    # Exports are logged by jobs that send resources to modalities or peers; none exist yet.
    return OrthancJSONResponse({"Done": True, "Exports": [], "Last": 0})


async def delete_exports(request: Request) -> Response:
    return empty_text()


routes = [
    Route("/changes", get_changes, methods=["GET"]),
    Route("/changes", delete_changes, methods=["DELETE"]),
    Route("/exports", get_exports, methods=["GET"]),
    Route("/exports", delete_exports, methods=["DELETE"]),
]
