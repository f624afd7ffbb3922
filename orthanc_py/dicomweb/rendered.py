"""WADO-RS ``/rendered`` and ``/thumbnail`` (study, series, instance, frame): consumer-format images.

A study or series is rendered by its first instance, an instance by its first frame, as the plugin
does. Options (PS3.18 8.3.5): ``quality``, ``viewport=width,height``, ``window=center,width[,fn]``.
JPEG unless the client asks for PNG; a thumbnail is at most 128×128 unless ``viewport`` says more.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..core.context import ServerContext
from ..core.errors import ErrorCode, OrthancError
from ..imaging import MIME_JPEG, MIME_PNG, render
from .locate import instances_of, locate

THUMBNAIL_SIZE = (128, 128)


def _numbers(name: str, text: str, count: int) -> list[float]:
    fields = [f for f in text.split(",") if f.strip()][:count]
    try:
        values = [float(f) for f in fields]
    except ValueError as e:
        raise OrthancError(ErrorCode.BadRequest, f'Bad value for "{name}": {text}') from e
    if len(values) != count:
        raise OrthancError(ErrorCode.BadRequest, f'Bad value for "{name}": {text}')
    return values


def _accept(request: Request) -> str:
    header = request.headers.get("accept", "")
    return MIME_PNG if MIME_PNG in header.lower() and MIME_JPEG not in header.lower() else MIME_JPEG


async def _render(request: Request, thumbnail: bool) -> Response:
    context: ServerContext = request.app.state.context
    p = request.path_params
    row = await locate(context, p["study"], p.get("series"), p.get("instance"))
    instances = await instances_of(context, row)
    if not instances:
        raise OrthancError(ErrorCode.InexistentItem, "No instance to render", http_status=404)
    frame = 0
    if "frame" in p:
        try:
            frame = int(p["frame"]) - 1
        except ValueError as e:
            raise OrthancError(ErrorCode.BadRequest, f"Bad frame number: {p['frame']}") from e
        if frame < 0:
            raise OrthancError(ErrorCode.ParameterOutOfRange, "Frame numbers start at 1", http_status=400)
    params = request.query_params
    viewport = None
    if "viewport" in params:
        width, height = _numbers("viewport", params["viewport"], 2)
        viewport = (int(width), int(height))
    elif thumbnail:
        viewport = THUMBNAIL_SIZE
    window = None
    if "window" in params:
        center, width = _numbers("window", params["window"], 2)
        window = (center, width)
    quality = 90
    if "quality" in params:
        quality = int(_numbers("quality", params["quality"], 1)[0])
        if not 1 <= quality <= 100:
            raise OrthancError(ErrorCode.BadRequest, "The quality must be between 1 and 100")
    data, media_type = await render(
        context,
        instances[0].public_id,
        frame,
        accept=_accept(request),
        quality=quality,
        viewport=viewport,
        window=window,
        smooth=thumbnail,
    )
    return Response(data, media_type=media_type)


async def rendered(request: Request) -> Response:
    return await _render(request, thumbnail=False)


async def thumbnail(request: Request) -> Response:
    return await _render(request, thumbnail=True)
