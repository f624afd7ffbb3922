"""Decoded frames → Octave/Matlab text (``/matlab``) and numpy files (``/numpy``), byte for byte as
Orthanc writes them (``ImageAccessor::ToMatlabString``, ``NumpyWriter``)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

import numpy as np

from ..core.errors import ErrorCode, OrthancError
from .decoding import DecodedFrame, PixelFormat


def _number(value: float) -> str:
    # boost::lexical_cast<std::string>(double): integral values without a decimal point.
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def to_matlab(frame: DecodedFrame) -> str:
    pixels = frame.pixels
    if frame.format == PixelFormat.RGB24:
        rows = ["".join(f"{int(v)} " for v in row.reshape(-1)) for row in pixels]
        return (
            "double(permute(reshape([ "
            + "".join(rows)
            + f"], [ 3 {frame.height} {frame.width} ]), [ 3 2 1 ]))"
        )
    if frame.format.is_color:
        raise OrthancError(ErrorCode.NotImplemented, f"No Matlab export of {frame.format.value} pixels")
    rows = ["".join(f"{_number(v)} " for v in row.tolist()) for row in pixels]
    return "double([ " + "; ".join(rows) + "])"


_DESCR = {
    PixelFormat.GRAYSCALE8: ("u1", 1),
    PixelFormat.GRAYSCALE16: ("u2", 1),
    PixelFormat.SIGNED_GRAYSCALE16: ("i2", 1),
    PixelFormat.RGB24: ("u1", 3),
    PixelFormat.FLOAT32: ("f4", 1),
}


def numpy_header(depth: int, width: int, height: int, pixel_format: PixelFormat) -> bytes:
    """The ``.npy`` 1.0 header; ``depth`` 0 for a single 2D frame (3 dimensions)."""
    if pixel_format not in _DESCR:
        raise OrthancError(ErrorCode.NotImplemented, f"No numpy export of {pixel_format.value} pixels")
    descr, channels = _DESCR[pixel_format]
    depth_text = f"{depth}, " if depth else ""
    info = (
        f"{{'descr': '<{descr}', 'fortran_order': False, "
        f"'shape': ({depth_text}{height},{width},{channels}), }}"
    )
    minimum = 8 + 2 + len(info) + 1
    length = 64
    while length < minimum:
        length += 64
    zeros = length - minimum
    header_length = len(info) + zeros + 1
    return (
        b"\x93NUMPY\x01\x00"
        + bytes([header_length % 256, header_length // 256])
        + info.encode("ascii")
        + b" " * zeros
        + b"\n"
    )


def to_numpy(
    frames: Iterable[tuple[DecodedFrame, tuple[float, float]]], depth: int, *, rescale: bool, compress: bool
) -> bytes:
    """``NumpyVisitor``: ``frames`` yields each frame with its (intercept, slope); grayscale frames
    become float32 ``slope * x + intercept`` when ``rescale``. All frames must share size and format."""
    chunks: list[bytes] = []
    first: DecodedFrame | None = None
    count = 0
    for frame, (intercept, slope) in frames:
        if first is None:
            first = frame
        elif (first.width, first.height) != (frame.width, frame.height):
            raise OrthancError(
                ErrorCode.IncompatibleImageSize, "The size of the frames varies across the instance(s)"
            )
        elif first.format != frame.format:
            raise OrthancError(
                ErrorCode.IncompatibleImageFormat,
                "The pixel format of the frames varies across the instance(s)",
            )
        if rescale and frame.format != PixelFormat.RGB24:
            if count == 0:
                chunks.append(numpy_header(depth, frame.width, frame.height, PixelFormat.FLOAT32))
            values = np.float32(slope) * frame.pixels.astype(np.float32) + np.float32(intercept)
            chunks.append(values.astype("<f4").tobytes())
        else:
            if count == 0:
                chunks.append(numpy_header(depth, frame.width, frame.height, frame.format))
            descr, _ = _DESCR[frame.format]
            chunks.append(np.ascontiguousarray(frame.pixels).astype("<" + descr).tobytes())
        count += 1
    if (depth == 0 and count != 1) or (depth != 0 and count != depth):
        raise OrthancError(ErrorCode.BadSequenceOfCalls)
    content = b"".join(chunks)
    if not compress:
        return content
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("arr_0", content)
    return buffer.getvalue()
