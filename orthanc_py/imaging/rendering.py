"""Decoded frame → the 8/16-bit image Orthanc answers: its conversions, clamping, windowing, resizing.

Each function mirrors one step of Orthanc's ``DicomImageDecoder::ApplyExtractionMode`` (for
``/preview``, ``/image-uint8``, ``/image-uint16``, ``/image-int16``) or of its
``RenderedFrameHandler`` (for ``/rendered``), in the same single-precision arithmetic, so that
pixels come out identical.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from ..core.errors import ErrorCode, OrthancError
from .decoding import DecodedFrame, PixelFormat

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"


class ExtractionMode(enum.Enum):
    PREVIEW = "preview"
    UINT8 = "image-uint8"
    UINT16 = "image-uint16"
    INT16 = "image-int16"


_TRUNCATION = {
    ExtractionMode.UINT8: PixelFormat.GRAYSCALE8,
    ExtractionMode.UINT16: PixelFormat.GRAYSCALE16,
    ExtractionMode.INT16: PixelFormat.SIGNED_GRAYSCALE16,
}


def convert(frame: DecodedFrame, target: PixelFormat) -> DecodedFrame:
    """``ImageProcessing::Convert`` between grayscale formats: values clamped to the target range;
    RGB48 → RGB24 keeps the high byte."""
    if frame.format == target:
        return frame
    if frame.format == PixelFormat.RGB48 and target == PixelFormat.RGB24:
        return DecodedFrame((frame.pixels >> 8).astype(np.uint8), target)
    if frame.format.is_color or target.is_color:
        raise OrthancError(ErrorCode.NotImplemented, "Cannot convert between color and grayscale")
    if target == PixelFormat.FLOAT32:
        return DecodedFrame(frame.pixels.astype(np.float32), target)
    from .decoding import DTYPES

    limits = np.iinfo(DTYPES[target])
    pixels = np.clip(frame.pixels.astype(np.int64), limits.min, limits.max).astype(DTYPES[target])
    return DecodedFrame(pixels, target)


def shift_scale(
    values: np.ndarray, offset: float, scaling: float, low: int, high: int, *, use_round: bool
) -> np.ndarray:
    """``ImageProcessing::ShiftScale``: ``(x + offset) * scaling`` computed as ``a*x + b`` in float32,
    clamped to [low, high], then rounded half away from zero or floored."""
    a = np.float32(scaling)
    b = np.float32(np.float32(offset) * a)
    v = (a * values.astype(np.float32) + b).astype(np.float64)
    if use_round:
        v = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))
    else:
        v = np.floor(v)
    return np.clip(v, low, high)


def preview(frame: DecodedFrame) -> DecodedFrame:
    """``PreviewDecodedImage``: color as is (RGB48 to 8 bits); grayscale stretched from its own
    [min, max] onto [0, 255] (all 0 when flat)."""
    if frame.format == PixelFormat.RGB24:
        return frame
    if frame.format == PixelFormat.RGB48:
        return convert(frame, PixelFormat.RGB24)
    pixels = frame.pixels
    if pixels.size == 0:
        return DecodedFrame(pixels.astype(np.uint8), PixelFormat.GRAYSCALE8)
    low, high = int(pixels.min()), int(pixels.max())
    if low == high:
        return DecodedFrame(np.zeros(pixels.shape, np.uint8), PixelFormat.GRAYSCALE8)
    scaled = shift_scale(pixels, float(-low), 255.0 / float(high - low), 0, 255, use_round=True)
    return DecodedFrame(scaled.astype(np.uint8), PixelFormat.GRAYSCALE8)


def invert(frame: DecodedFrame) -> DecodedFrame:
    """``ImageProcessing::Invert`` of an 8-bit image (MONOCHROME1)."""
    if frame.format not in (PixelFormat.GRAYSCALE8, PixelFormat.RGB24):
        raise OrthancError(ErrorCode.NotImplemented, "Cannot invert this pixel format")
    return DecodedFrame((255 - frame.pixels).astype(np.uint8), frame.format)


def extract(frame: DecodedFrame, mode: ExtractionMode, *, invert_pixels: bool = False) -> DecodedFrame:
    """``DicomImageDecoder::ApplyExtractionMode``: grayscale modes refuse color images."""
    if mode == ExtractionMode.PREVIEW:
        result = preview(frame)
    else:
        if frame.format.is_color:
            raise OrthancError(ErrorCode.NotImplemented, "Cannot extract a grayscale image from a color one")
        result = convert(frame, _TRUNCATION[mode])
    return invert(result) if invert_pixels else result


def is_monochrome1(dataset: Dataset) -> bool:
    return str(dataset.get("PhotometricInterpretation", "") or "").strip().upper() == "MONOCHROME1"


def _first_number(value: Any) -> float | None:
    """``SerializationToolbox::ParseFirstDouble``: the first of a multi-valued decimal string."""
    if value is None:
        return None
    if isinstance(value, MultiValue | list | tuple):
        if not value:
            return None
        value = value[0]
    text = str(value)
    text = text.strip().split("\\")[0].strip()
    try:
        return float(text)
    except ValueError:
        return None


def _per_frame_item(dataset: Dataset, frame: int, sequence: str) -> Dataset | None:
    groups = dataset.get("PerFrameFunctionalGroupsSequence")
    if not groups or frame >= len(groups):
        return None
    inner = groups[frame].get(sequence)
    return inner[0] if inner else None


def rescale_of(dataset: Dataset, frame: int) -> tuple[float, float]:
    """``ParsedDicomFile::GetRescale``: (intercept, slope); none for RT Dose; per-frame groups last."""
    if str(dataset.get("SOPClassUID", "")) == RT_DOSE_STORAGE:
        return 0.0, 1.0
    for source in (dataset, _per_frame_item(dataset, frame, "PixelValueTransformationSequence")):
        if source is None:
            continue
        intercept = _first_number(source.get("RescaleIntercept"))
        slope = _first_number(source.get("RescaleSlope"))
        if intercept is not None and slope is not None:
            return intercept, slope
    return 0.0, 1.0


def default_windowing(dataset: Dataset, frame: int) -> tuple[float, float]:
    """``ParsedDicomFile::GetDefaultWindowing``: (center, width) of the file, else of the frame's
    functional groups, else the whole range of Bits Stored (without rescale, as Orthanc does)."""
    for source in (dataset, _per_frame_item(dataset, frame, "FrameVOILUTSequence")):
        if source is None:
            continue
        center = _first_number(source.get("WindowCenter"))
        width = _first_number(source.get("WindowWidth"))
        if center is not None and width is not None:
            return center, width
    try:
        bits = int(dataset.get("BitsStored", 0) or 0)
    except (TypeError, ValueError):
        bits = 0
    width = float(1 << (bits or 8))
    return width / 2.0, width


@dataclass(frozen=True, slots=True)
class RenderingOptions:
    """Arguments of ``/rendered``; None means "from the DICOM file" (windowing) or "unchanged" (size)."""

    window_center: float | None = None
    window_width: float | None = None
    width: int = 0
    height: int = 0
    smooth: bool = False


def target_size(frame: DecodedFrame, options: RenderingOptions) -> tuple[int, int]:
    """Orthanc keeps the aspect ratio: the smaller of the two ratios when both are given."""
    width, height = frame.width, frame.height
    if width == 0 or height == 0:
        return width, height
    ratio = np.float32(1)
    if options.width and options.height:
        ratio = min(
            np.float32(options.width) / np.float32(width), np.float32(options.height) / np.float32(height)
        )
    elif options.width:
        ratio = np.float32(options.width) / np.float32(width)
    elif options.height:
        ratio = np.float32(options.height) / np.float32(height)
    return _iround(float(np.float32(ratio * np.float32(width)))), _iround(
        float(np.float32(ratio * np.float32(height)))
    )


def _iround(value: float) -> int:
    return int(np.floor(value + 0.5)) if value >= 0 else int(np.ceil(value - 0.5))


def render(frame: DecodedFrame, dataset: Dataset, index: int, options: RenderingOptions) -> DecodedFrame:
    """``RenderedFrameHandler``: rescale slope/intercept and windowing onto 8 bits for grayscale
    (inverted for MONOCHROME1), color unchanged; then resized to the requested size."""
    size = target_size(frame, options)
    if frame.format.is_color:
        result = preview(frame)
        return _resize(result, size, options.smooth) if size != (frame.width, frame.height) else result
    intercept, slope = rescale_of(dataset, index)
    center, width = default_windowing(dataset, index)
    if options.window_center is not None:
        center = options.window_center
    if options.window_width is not None:
        width = options.window_width
    if width <= 1.0:
        width = 1.0
    if abs(slope) <= 0.0001:
        slope = 0.0001
    scaling = 255.0 * slope / width
    offset = (intercept - center + width / 2.0) / slope
    pixels = shift_scale(frame.pixels, offset, scaling, 0, 255, use_round=False).astype(np.uint8)
    result = DecodedFrame(pixels, PixelFormat.GRAYSCALE8)
    if size != (frame.width, frame.height):
        result = _resize(result, size, options.smooth)
    return invert(result) if is_monochrome1(dataset) else result


def _resize(frame: DecodedFrame, size: tuple[int, int], smooth: bool) -> DecodedFrame:
    from PIL import Image, ImageFilter

    image = Image.fromarray(frame.pixels)
    if smooth and (size[0] < frame.width or size[1] < frame.height):
        image = image.filter(ImageFilter.GaussianBlur(1))
    if size[0] == 0 or size[1] == 0:
        shape = (size[1], size[0], 3) if frame.format.is_color else (size[1], size[0])
        return DecodedFrame(np.zeros(shape, np.uint8), frame.format)
    resized = image.resize(size, Image.Resampling.BILINEAR)
    return DecodedFrame(np.asarray(resized), frame.format)
