"""``/series/{id}/ordered-slices``: the instances (and frames) of a series in geometric order,
as Orthanc's ``SliceOrdering`` computes them from the main tags (deprecated in Orthanc, still used
by older viewers)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.context import ServerContext
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.requested_tags import descendants
from .context_access import context_of
from .responses import OrthancJSONResponse

IMAGE_POSITION_PATIENT = 0x00200032
IMAGE_ORIENTATION_PATIENT = 0x00200037
INSTANCE_NUMBER = 0x00200013
IMAGE_INDEX = 0x00541330
NUMBER_OF_FRAMES = 0x00280008


def _vector(text: str | None, size: int) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split("\\")]
    except ValueError:
        return None
    return values if len(values) == size else None


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


async def ordered_slices(request: Request) -> Response:
    return OrthancJSONResponse(await slice_order(context_of(request), request.path_params["id"]))


async def slice_order(context: ServerContext, series_public_id: str) -> dict[str, Any]:
    """The ``ordered-slices`` answer of a series (also the frame order of ``/series/{id}/numpy``)."""
    row = await context.lookup(ResourceLevel.SERIES, series_public_id)
    async with context.index.transaction() as tx:
        instances = (await descendants(tx, [row.internal_id], 1))[row.internal_id]
        tags = await tx.get_main_tags([row.internal_id, *[i.internal_id for i in instances]])
    orientation = _vector(tags[row.internal_id].get(IMAGE_ORIENTATION_PATIENT), 6)
    entries = []
    for instance in instances:
        own = tags[instance.internal_id]
        frames = max(1, _int(own.get(NUMBER_OF_FRAMES)) or 1)
        position = _vector(own.get(IMAGE_POSITION_PATIENT), 3)
        instance_orientation = _vector(own.get(IMAGE_ORIENTATION_PATIENT), 6) or orientation
        depth = None
        if position is not None and instance_orientation is not None:
            r, c = instance_orientation[:3], instance_orientation[3:]
            normal = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]]
            depth = sum(p * n for p, n in zip(position, normal, strict=True))
        index = _int(own.get(INSTANCE_NUMBER))
        if index is None:
            index = _int(own.get(IMAGE_INDEX))
        entries.append((instance.public_id, frames, depth, index))
    depths = [e[2] for e in entries]
    if len(entries) > 1 and all(d is not None for d in depths) and len(set(depths)) == len(depths):
        kind = "Volume"
        entries.sort(key=lambda e: e[2])  # type: ignore[arg-type, return-value]
    elif all(e[3] is not None for e in entries) and len({e[3] for e in entries}) == len(entries):
        kind = "Sequence"
        entries.sort(key=lambda e: e[3])  # type: ignore[arg-type, return-value]
    else:
        raise OrthancError(ErrorCode.BadFileFormat, "Unable to order the slices of this series")
    return {
        "Dicom": [f"/instances/{e[0]}/file" for e in entries],
        "Slices": [f"/instances/{e[0]}/frames/{f}" for e in entries for f in range(e[1])],
        "SlicesShort": [[e[0], 0, e[1]] for e in entries],
        "Type": kind,
    }


routes = [Route("/series/{id}/ordered-slices", ordered_slices, methods=["GET"])]
