"""Images of stored instances: decoding, Orthanc's conversions and rendering, encodings.

The API other front ends (DICOMweb ``/rendered``, ``/thumbnail``, WADO-URI ``image/jpeg``) call:

``await render(context, instance_public_id, frame, accept=..., quality=90, viewport=None, window=None)``
    → ``(bytes, media_type)``: the frame (0-based) rendered like Orthanc's ``/rendered`` (rescale,
    windowing, MONOCHROME1 inverted, resize keeping the aspect ratio), encoded as the Accept header
    prefers among ``image/png`` (default), ``image/jpeg``, ``image/x-portable-arbitrarymap``.
    Raises OrthancError: UnknownResource (no such instance), ParameterOutOfRange (no such frame),
    NotImplemented (an image that cannot be decoded), NotAcceptable (no acceptable media type).

``decode_frame(dataset, frame)`` → ``DecodedFrame`` (numpy pixels + Orthanc pixel format), for a
pydicom dataset read with ``read_image_dataset(bytes)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import ErrorCode, OrthancError
from .decoding import DecodedFrame, ImageInfo, PixelFormat, decode_frame, frame_count, read_image_dataset
from .encoding import MIME_JPEG, MIME_PAM, MIME_PNG, encode, negotiate
from .rendering import ExtractionMode, RenderingOptions, extract
from .rendering import render as render_frame

if TYPE_CHECKING:
    from ..core.context import ServerContext

__all__ = [
    "MIME_JPEG",
    "MIME_PAM",
    "MIME_PNG",
    "DecodedFrame",
    "ExtractionMode",
    "ImageInfo",
    "PixelFormat",
    "RenderingOptions",
    "decode_frame",
    "extract",
    "frame_count",
    "read_image_dataset",
    "render",
    "render_bytes",
]


def render_bytes(
    data: bytes,
    frame: int,
    *,
    accept: str | None = None,
    quality: int = 90,
    viewport: tuple[int, int] | None = None,
    window: tuple[float, float] | None = None,
    smooth: bool = False,
) -> tuple[bytes, str]:
    """The synchronous core of :func:`render`, from the DICOM file's bytes (CPU-bound)."""
    media_type = negotiate(accept)
    if media_type is None:
        raise OrthancError(ErrorCode.NotAcceptable)
    dataset = read_image_dataset(data)
    decoded = decode_frame(dataset, frame)
    width, height = viewport or (0, 0)
    center, window_width = window if window is not None else (None, None)
    options = RenderingOptions(center, window_width, width, height, smooth)
    rendered = render_frame(decoded, dataset, frame, options)
    return encode(rendered, media_type, quality), media_type


async def render(
    context: ServerContext,
    instance_public_id: str,
    frame: int = 0,
    *,
    accept: str | None = None,
    quality: int = 90,
    viewport: tuple[int, int] | None = None,
    window: tuple[float, float] | None = None,
    smooth: bool = False,
) -> tuple[bytes, str]:
    """Render one frame (0-based) of a stored instance; ``viewport`` is (width, height), 0 for
    "keep the aspect ratio"; ``window`` is (center, width), else the file's default windowing."""
    data = await context.read_dicom(instance_public_id)

    def work() -> tuple[bytes, str]:
        return render_bytes(
            data, frame, accept=accept, quality=quality, viewport=viewport, window=window, smooth=smooth
        )

    return await context.run_cpu(work)
