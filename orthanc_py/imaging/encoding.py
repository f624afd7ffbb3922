"""8/16-bit frames → PNG, JPEG or PAM bytes, and the choice among them by the Accept header.

Orthanc offers PNG (its default), JPEG (``quality`` 1..100, default 90) and PAM
(``image/x-portable-arbitrarymap``) for every image route; JPEG holds 8-bit images only. 16-bit
signed pixels are written as their two's complement bits, as Orthanc's PNG writer does.
"""

from __future__ import annotations

import io

import numpy as np

from ..core.errors import ErrorCode, OrthancError
from .decoding import DecodedFrame, PixelFormat

MIME_PNG = "image/png"
MIME_JPEG = "image/jpeg"
MIME_PAM = "image/x-portable-arbitrarymap"
OFFERED = (MIME_PNG, MIME_JPEG, MIME_PAM)


def negotiate(accept: str | None, offered: tuple[str, ...] = OFFERED) -> str | None:
    """The offered media type the client prefers (highest ``q``, then header order); the first
    offered one for a missing header or a wildcard; None when nothing matches."""
    if not accept or not accept.strip():
        return offered[0]
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        quality = 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, media))
    for _, _, media in sorted(ranges):
        if media in ("*/*", "*", "image/*"):
            return offered[0]
        if media in offered:
            return media
    return None


def parse_quality(value: str | None) -> int:
    """Orthanc's ``quality`` argument; 400 outside 1..100."""
    if value is None:
        return 90
    try:
        quality = int(value)
    except ValueError:
        quality = -1
    if not 1 <= quality <= 100:
        raise OrthancError(
            ErrorCode.BadRequest,
            f"Bad quality for a JPEG encoding (must be a number between 0 and 100): {value}",
        )
    return quality


def encode(frame: DecodedFrame, media_type: str, quality: int = 90) -> bytes:
    if media_type == MIME_PNG:
        return encode_png(frame)
    if media_type == MIME_JPEG:
        return encode_jpeg(frame, quality)
    if media_type == MIME_PAM:
        return encode_pam(frame)
    raise OrthancError(ErrorCode.NotAcceptable)


def encode_png(frame: DecodedFrame) -> bytes:
    from PIL import Image

    pixels = frame.pixels
    if frame.format in (PixelFormat.GRAYSCALE8, PixelFormat.RGB24):
        image = Image.fromarray(np.ascontiguousarray(pixels))
    elif frame.format in (PixelFormat.GRAYSCALE16, PixelFormat.SIGNED_GRAYSCALE16):
        data = np.ascontiguousarray(pixels.view(np.uint16)).astype("<u2").tobytes()
        image = Image.frombytes("I;16", (frame.width, frame.height), data)
    else:
        raise OrthancError(ErrorCode.NotImplemented, f"Cannot write a PNG of {frame.format.value} pixels")
    buffer = io.BytesIO()
    # zlib's level 1 keeps the answers small while costing a fraction of the default level's time.
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(frame: DecodedFrame, quality: int) -> bytes:
    from PIL import Image

    if frame.format not in (PixelFormat.GRAYSCALE8, PixelFormat.RGB24):
        raise OrthancError(ErrorCode.NotImplemented, f"Cannot write a JPEG of {frame.format.value} pixels")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame.pixels)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_pam(frame: DecodedFrame) -> bytes:
    """Netpbm PAM: big-endian samples, as Orthanc's ``PamWriter``."""
    channels = 3 if frame.format.is_color else 1
    if frame.format in (PixelFormat.GRAYSCALE8, PixelFormat.RGB24):
        maxval, data = 255, np.ascontiguousarray(frame.pixels).tobytes()
    elif frame.format in (PixelFormat.GRAYSCALE16, PixelFormat.SIGNED_GRAYSCALE16, PixelFormat.RGB48):
        maxval, data = 65535, frame.pixels.view(np.uint16).astype(">u2").tobytes()
    else:
        raise OrthancError(ErrorCode.NotImplemented, f"Cannot write a PAM of {frame.format.value} pixels")
    tuple_type = "RGB" if channels == 3 else "GRAYSCALE"
    header = (
        f"P7\nWIDTH {frame.width}\nHEIGHT {frame.height}\nDEPTH {channels}\n"
        f"MAXVAL {maxval}\nTUPLTYPE {tuple_type}\nENDHDR\n"
    )
    return header.encode("ascii") + data
