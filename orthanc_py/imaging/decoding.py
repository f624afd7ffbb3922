"""Pixel data of a stored instance → one numpy frame, in the pixel format Orthanc would decode it to.

Orthanc decodes a frame into one of a few pixel formats (``DicomImageInformation::ExtractPixelFormat``)
and every image route starts from that: Grayscale8 (8 bits stored, unsigned), Grayscale16 and
SignedGrayscale16 (16 bits allocated), Grayscale32 (32 bits allocated, unsigned), RGB24 (3 samples
of 8 bits, or an 8-bit palette), RGB48 (16-bit RGB or palette). Stored values are not rescaled.

Native (uncompressed) pixel data is read here with numpy, keeping the low Bits Stored bits as
Orthanc's ``DicomIntegerPixelAccessor`` does (mask, sign extension; High Bit ignored). Encapsulated pixel data
(JPEG, JPEG-LS, JPEG 2000, RLE, deflate is undone by the parser) goes through pydicom's decoders
backed by pylibjpeg.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from ..core.errors import ErrorCode, OrthancError

TAG_PIXEL_DATA = 0x7FE00010

_JPEG_SYNTAXES = {
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
}
# Pillow's libjpeg gives the same 8-bit pixels as Orthanc's DCMTK (pylibjpeg's differs by rounding).
_PILLOW_SYNTAXES = {"1.2.840.10008.1.2.4.50"}


class PixelFormat(enum.Enum):
    GRAYSCALE8 = "Grayscale8"
    GRAYSCALE16 = "Grayscale16"
    SIGNED_GRAYSCALE16 = "SignedGrayscale16"
    GRAYSCALE32 = "Grayscale32"
    RGB24 = "RGB24"
    RGB48 = "RGB48"
    FLOAT32 = "Float32"

    @property
    def is_color(self) -> bool:
        return self in (PixelFormat.RGB24, PixelFormat.RGB48)


DTYPES: dict[PixelFormat, Any] = {
    PixelFormat.GRAYSCALE8: np.uint8,
    PixelFormat.GRAYSCALE16: np.uint16,
    PixelFormat.SIGNED_GRAYSCALE16: np.int16,
    PixelFormat.GRAYSCALE32: np.uint32,
    PixelFormat.RGB24: np.uint8,
    PixelFormat.RGB48: np.uint16,
    PixelFormat.FLOAT32: np.float32,
}


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """One frame: ``pixels`` is (rows, columns) for grayscale, (rows, columns, 3) for color."""

    pixels: np.ndarray
    format: PixelFormat

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """The Image Pixel module of a dataset, as Orthanc reads it (``DicomImageInformation``)."""

    rows: int
    columns: int
    frames: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    signed: bool
    samples_per_pixel: int
    planar: bool
    photometric: str

    @classmethod
    def of(cls, dataset: Dataset) -> ImageInfo:
        def integer(keyword: str, default: int | None = None) -> int:
            value = dataset.get(keyword)
            if value is None or value == "":
                if default is None:
                    raise OrthancError(ErrorCode.NotImplemented, f"Missing tag: {keyword}")
                return default
            try:
                return int(value)
            except (TypeError, ValueError) as e:
                raise OrthancError(ErrorCode.NotImplemented, f"Bad value for {keyword}") from e

        bits_allocated = integer("BitsAllocated")
        bits_stored = integer("BitsStored", bits_allocated)
        try:
            frames = max(1, int(str(dataset.get("NumberOfFrames", 1) or 1).strip() or 1))
        except ValueError:
            frames = 1
        return cls(
            rows=integer("Rows"),
            columns=integer("Columns"),
            frames=frames,
            bits_allocated=bits_allocated,
            bits_stored=bits_stored,
            high_bit=integer("HighBit", bits_stored - 1),
            signed=integer("PixelRepresentation", 0) == 1,
            samples_per_pixel=integer("SamplesPerPixel", 1),
            planar=integer("PlanarConfiguration", 0) == 1,
            photometric=str(dataset.get("PhotometricInterpretation", "") or "").strip().upper(),
        )

    def pixel_format(self) -> PixelFormat | None:
        """``DicomImageInformation::ExtractPixelFormat``: None where Orthanc cannot decode."""
        one, three = self.samples_per_pixel == 1, self.samples_per_pixel == 3
        if self.photometric == "PALETTE COLOR" and one and not self.signed:
            if self.bits_stored == 8:
                return PixelFormat.RGB24
            if self.bits_stored == 16:
                return PixelFormat.RGB48
        if self.photometric in ("MONOCHROME1", "MONOCHROME2") and one:
            if self.bits_stored == 8 and not self.signed:
                return PixelFormat.GRAYSCALE8
            if self.bits_allocated == 16:
                return PixelFormat.SIGNED_GRAYSCALE16 if self.signed else PixelFormat.GRAYSCALE16
            # Grayscale32 exists in Orthanc's formats, but its decoder refuses 32-bit images (415).
            if self.bits_allocated == 1 and self.bits_stored == 1:
                return PixelFormat.GRAYSCALE8  # 0 or 255
        if three and not self.signed and self.photometric.startswith(("RGB", "YBR")):
            if self.bits_stored == 8:
                return PixelFormat.RGB24
            if self.bits_stored == 16:
                return PixelFormat.RGB48
        return None


def read_image_dataset(data: bytes) -> Dataset:
    """Parse a stored DICOM file for decoding (pixel data included, read lazily by pydicom)."""
    try:
        return pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as e:  # pydicom raises assorted errors on malformed input
        raise OrthancError(ErrorCode.BadFileFormat, "Cannot parse an invalid DICOM file") from e


def frame_count(dataset: Dataset) -> int:
    if TAG_PIXEL_DATA not in dataset and "FloatPixelData" not in dataset:
        return 0
    try:
        return ImageInfo.of(dataset).frames
    except OrthancError:
        return 1


def _transfer_syntax(dataset: Dataset) -> UID:
    meta = getattr(dataset, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid:
        return UID(str(uid))
    implicit = getattr(dataset, "is_implicit_VR", True)
    little = getattr(dataset, "is_little_endian", True)
    if not little:
        return pydicom.uid.ExplicitVRBigEndian
    return pydicom.uid.ImplicitVRLittleEndian if implicit else pydicom.uid.ExplicitVRLittleEndian


def decode_frame(dataset: Dataset, frame: int = 0) -> DecodedFrame:
    """Decode one frame (0-based) as Orthanc would.

    Raises OrthancError(ParameterOutOfRange) for a frame past the end, and
    OrthancError(NotImplemented) for an image Orthanc cannot decode (no pixel data, an unsupported
    pixel format or a codec failure): the image routes answer 415 to the latter.
    """
    if TAG_PIXEL_DATA not in dataset:
        raise OrthancError(ErrorCode.NotImplemented, "This DICOM instance has no pixel data")
    info = ImageInfo.of(dataset)
    if frame < 0 or frame >= info.frames:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Frame {frame} does not exist")
    target = info.pixel_format()
    if target is None or info.rows <= 0 or info.columns <= 0:
        raise OrthancError(
            ErrorCode.NotImplemented,
            f"Unsupported image: {info.photometric}, {info.samples_per_pixel} samples, "
            f"{info.bits_allocated}/{info.bits_stored} bits, signed={info.signed}",
        )
    syntax = _transfer_syntax(dataset)
    try:
        if not syntax.is_encapsulated and info.photometric != "YBR_FULL_422" and info.bits_allocated != 1:
            values = _native_frame(dataset, info, syntax, frame)
        else:
            values = _codec_frame(dataset, info, syntax, frame)
    except OrthancError:
        raise
    except Exception as e:  # codec errors, truncated pixel data, …
        raise OrthancError(ErrorCode.NotImplemented, f"Cannot decode the image: {e}") from e
    if info.photometric == "PALETTE COLOR":
        return DecodedFrame(_apply_palette(dataset, values, target), target)
    if info.bits_allocated == 1:
        return DecodedFrame(np.where(values != 0, 255, 0).astype(np.uint8), target)
    if info.photometric in ("YBR_FULL", "YBR_FULL_422") and syntax not in _JPEG_SYNTAXES:
        values = ycbcr_to_rgb(values)
    return DecodedFrame(_to_format(values, target), target)


def _native_frame(dataset: Dataset, info: ImageInfo, syntax: UID, frame: int) -> np.ndarray:
    """Stored values of one native frame, through High Bit / Bits Stored as Orthanc reads them."""
    raw = dataset[TAG_PIXEL_DATA].value
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise OrthancError(ErrorCode.NotImplemented, "Unexpected Pixel Data value")
    bytes_per_sample = info.bits_allocated // 8
    if bytes_per_sample not in (1, 2, 4):
        raise OrthancError(ErrorCode.NotImplemented, f"Bits Allocated {info.bits_allocated}")
    samples = info.rows * info.columns * info.samples_per_pixel
    frame_size = samples * bytes_per_sample
    start = frame * frame_size
    if start + frame_size > len(raw):
        raise OrthancError(ErrorCode.NotImplemented, "The pixel data is too short for this frame")
    order = ">" if syntax == pydicom.uid.ExplicitVRBigEndian else "<"
    dtype = np.dtype(f"{order}u{bytes_per_sample}")
    values = np.frombuffer(raw, dtype=dtype, count=samples, offset=start).astype(np.int64)
    values = _through_bits(values, info)
    if info.samples_per_pixel == 1:
        return values.reshape(info.rows, info.columns)
    if info.planar:
        return values.reshape(info.samples_per_pixel, info.rows, info.columns).transpose(1, 2, 0)
    return values.reshape(info.rows, info.columns, info.samples_per_pixel)


def _through_bits(values: np.ndarray, info: ImageInfo) -> np.ndarray:
    # Orthanc keeps the low Bits Stored bits whatever High Bit says (its pixel accessor ignores it).
    bits = info.bits_stored
    if bits < 63:
        mask = (1 << bits) - 1
        values = values & mask
        if info.signed:
            sign = 1 << (bits - 1)
            values = np.where(values & sign, values - (1 << bits), values)
    return values


def _codec_frame(dataset: Dataset, info: ImageInfo, syntax: UID, frame: int) -> np.ndarray:
    from pydicom.pixels import get_decoder

    decoder = get_decoder(syntax)
    if decoder is None or not decoder.is_available:
        raise OrthancError(ErrorCode.NotImplemented, f"No decoder for the transfer syntax {syntax}")
    # JPEG codecs convert YCbCr themselves (Pillow's libjpeg does it as DCMTK's does); other
    # YBR_FULL pixels are converted below with Orthanc's own formula.
    jpeg = syntax in _JPEG_SYNTAXES
    options: dict[str, Any] = {"as_rgb": jpeg}
    if syntax in _PILLOW_SYNTAXES and "pillow" in decoder.available_plugins:
        options["decoding_plugin"] = "pillow"
    if info.bits_stored < info.bits_allocated and not syntax.is_encapsulated:
        options["correct_unused_bits"] = True
    array, _ = decoder.as_array(dataset, index=frame, **options)
    values = np.asarray(array).astype(np.int64)
    if info.signed and np.issubdtype(array.dtype, np.unsignedinteger):
        sign = 1 << (info.bits_stored - 1)
        values = np.where(values & sign, values - (1 << info.bits_stored), values)
    if info.samples_per_pixel == 3 and values.ndim == 2:
        values = np.stack([values] * 3, axis=-1)
    return values


def ycbcr_to_rgb(values: np.ndarray) -> np.ndarray:
    """``ImageProcessing::ConvertJpegYCbCrToRgb``: float32 JFIF formula, truncated and clamped."""
    f = np.float32
    ycbcr = values.astype(np.float32)
    y, cb, cr = ycbcr[..., 0], ycbcr[..., 1] - f(128), ycbcr[..., 2] - f(128)
    rgb = np.stack([y + f(1.402) * cr, y - f(0.344136) * cb - f(0.714136) * cr, y + f(1.772) * cb], axis=-1)
    return np.clip(np.trunc(rgb), 0, 255).astype(np.int64)


def _to_format(values: np.ndarray, target: PixelFormat) -> np.ndarray:
    dtype = np.dtype(DTYPES[target])
    if values.dtype == dtype:
        return values
    limits = np.iinfo(dtype)
    return np.clip(values, limits.min, limits.max).astype(dtype)


def _apply_palette(dataset: Dataset, values: np.ndarray, target: PixelFormat) -> np.ndarray:
    """Palette lookup as Orthanc does: indexes clamped into the tables; 8-bit output keeps the high
    byte of 16-bit table entries."""
    from pydicom.pixels.processing import apply_color_lut

    indexes = np.clip(values, 0, None).astype(np.uint16 if target == PixelFormat.RGB48 else np.uint16)
    rgb = np.asarray(apply_color_lut(indexes, dataset))
    depth = int(dataset.get("RedPaletteColorLookupTableDescriptor", [0, 0, 16])[2])
    if target == PixelFormat.RGB24:
        if depth == 16 or rgb.dtype == np.uint16:
            rgb = rgb >> 8 if depth == 16 else rgb
        return rgb.astype(np.uint8)
    return rgb.astype(np.uint16)
