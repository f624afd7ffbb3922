"""Small deterministic images in every pixel layout Orthanc decodes, made with pydicom.

Each file exercises one decoding rule: 8/16/32 bits, signed values, Bits Stored < Bits Allocated
with a High Bit that is not Bits Stored - 1, MONOCHROME1, RGB with both planar configurations,
YBR_FULL, palettes, big endian, multi-frame, and pydicom's RLE and deflate encodings. The tests
build them in memory; ``python -m compat_tests.image_factory`` writes them to ``fixtures/images/``
so that ``compat_tests.record_images`` records what the real Orthanc decodes from them.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    RLELossless,
)

IMAGES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "images"
ROOT_UID = "1.2.826.0.1.3680043.10.1104.7"
ROWS, COLUMNS = 12, 16


def _base(name: str, number: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = f"{ROOT_UID}.3.{number}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = f"{ROOT_UID}.9"
    ds.file_meta.ImplementationVersionName = "ORTHANC_PY"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = f"{ROOT_UID}.3.{number}"
    ds.StudyInstanceUID = f"{ROOT_UID}.1"
    ds.SeriesInstanceUID = f"{ROOT_UID}.2.{number}"
    ds.PatientID = "IMAGES"
    ds.PatientName = "IMAGES^TEST"
    ds.Modality = "OT"
    ds.SeriesDescription = name
    ds.InstanceNumber = number
    ds.Rows, ds.Columns = ROWS, COLUMNS
    return ds


def _ramp(low: int, high: int, frames: int = 1) -> np.ndarray:
    """Values spread from ``low`` to ``high`` over the frame(s), deterministic."""
    count = frames * ROWS * COLUMNS
    values = np.linspace(low, high, count).round().astype(np.int64)
    return values.reshape(frames, ROWS, COLUMNS) if frames > 1 else values.reshape(ROWS, COLUMNS)


def _grayscale(
    ds: Dataset, values: np.ndarray, *, allocated: int, stored: int, signed: bool, high_bit: int | None = None
) -> Dataset:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored = allocated, stored
    ds.HighBit = stored - 1 if high_bit is None else high_bit
    ds.PixelRepresentation = 1 if signed else 0
    shift = ds.HighBit + 1 - stored
    stored_values = (values.astype(np.int64) & ((1 << stored) - 1)) << shift
    dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[allocated]
    ds.PixelData = stored_values.astype(dtype).tobytes()
    if values.ndim == 3:
        ds.NumberOfFrames = values.shape[0]
    return ds


def gray8(number: int) -> Dataset:
    return _grayscale(_base("gray8", number), _ramp(0, 255), allocated=8, stored=8, signed=False)


def gray16_12bits_high_bit(number: int) -> Dataset:
    """12 bits stored at bits 14..3, with garbage in the unused bits."""
    ds = _grayscale(
        _base("gray16-12bits", number), _ramp(0, 4095), allocated=16, stored=12, signed=False, high_bit=14
    )
    raw = np.frombuffer(ds.PixelData, np.uint16) | 0x8001
    ds.PixelData = raw.astype(np.uint16).tobytes()
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    return ds


def signed16_ct(number: int) -> Dataset:
    ds = _grayscale(_base("signed16", number), _ramp(-2000, 3000), allocated=16, stored=16, signed=True)
    ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
    ds.WindowCenter, ds.WindowWidth = "40\\300", "400\\1500"
    return ds


def signed12_in16(number: int) -> Dataset:
    return _grayscale(_base("signed12", number), _ramp(-2048, 2047), allocated=16, stored=12, signed=True)


def monochrome1(number: int) -> Dataset:
    ds = _grayscale(_base("monochrome1", number), _ramp(0, 1000), allocated=16, stored=16, signed=False)
    ds.PhotometricInterpretation = "MONOCHROME1"
    return ds


def gray32(number: int) -> Dataset:
    return _grayscale(_base("gray32", number), _ramp(0, 100000), allocated=32, stored=32, signed=False)


def multiframe16(number: int) -> Dataset:
    return _grayscale(_base("multiframe", number), _ramp(0, 60000, 3), allocated=16, stored=16, signed=False)


def big_endian16(number: int) -> Dataset:
    ds = _grayscale(_base("big-endian", number), _ramp(0, 40000), allocated=16, stored=16, signed=False)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds.PixelData = np.frombuffer(ds.PixelData, "<u2").astype(">u2").tobytes()
    return ds


def deflated16(number: int) -> Dataset:
    ds = _grayscale(_base("deflated", number), _ramp(100, 900), allocated=16, stored=16, signed=False)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return ds


def _color(ds: Dataset, rgb: np.ndarray, photometric: str, planar: int) -> Dataset:
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = photometric
    ds.PlanarConfiguration = planar
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    pixels = rgb.transpose(2, 0, 1) if planar else rgb
    ds.PixelData = np.ascontiguousarray(pixels).astype(np.uint8).tobytes()
    return ds


def _rgb() -> np.ndarray:
    y, x = np.mgrid[0:ROWS, 0:COLUMNS]
    return np.stack([x * 16, y * 20, (x + y) * 9 % 256], axis=-1).astype(np.uint8)


def rgb_interleaved(number: int) -> Dataset:
    return _color(_base("rgb", number), _rgb(), "RGB", 0)


def rgb_planar(number: int) -> Dataset:
    return _color(_base("rgb-planar", number), _rgb(), "RGB", 1)


def ybr_full(number: int) -> Dataset:
    from pydicom.pixels import convert_color_space

    ybr = convert_color_space(_rgb(), "RGB", "YBR_FULL")
    return _color(_base("ybr-full", number), ybr, "YBR_FULL", 0)


def palette8(number: int) -> Dataset:
    ds = _grayscale(_base("palette", number), _ramp(0, 255), allocated=8, stored=8, signed=False)
    ds.PhotometricInterpretation = "PALETTE COLOR"
    for color, table in (
        ("Red", np.arange(256) * 257),
        ("Green", (255 - np.arange(256)) * 257),
        ("Blue", (np.arange(256) * 7 % 256) * 257),
    ):
        setattr(ds, f"{color}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{color}PaletteColorLookupTableData", table.astype("<u2").tobytes())
    return ds


def rle16(number: int) -> Dataset:
    ds = _grayscale(_base("rle16", number), _ramp(0, 50000, 2), allocated=16, stored=16, signed=False)
    ds.compress(RLELossless, encoding_plugin="pydicom")
    return ds


def rle_rgb(number: int) -> Dataset:
    ds = rgb_interleaved(number)
    ds.SeriesDescription = "rle-rgb"
    ds.compress(RLELossless, encoding_plugin="pydicom")
    return ds


GENERATORS: dict[str, Callable[[int], Dataset]] = {
    "gray8": gray8,
    "gray16-12bits-high-bit": gray16_12bits_high_bit,
    "signed16-ct": signed16_ct,
    "signed12-in16": signed12_in16,
    "monochrome1": monochrome1,
    "gray32": gray32,
    "multiframe16": multiframe16,
    "big-endian16": big_endian16,
    "deflated16": deflated16,
    "rgb": rgb_interleaved,
    "rgb-planar": rgb_planar,
    "ybr-full": ybr_full,
    "palette8": palette8,
    "rle16": rle16,
    "rle-rgb": rle_rgb,
}


def encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    syntax = ds.file_meta.TransferSyntaxUID
    ds.save_as(
        buffer, enforce_file_format=True, little_endian=syntax != ExplicitVRBigEndian, implicit_vr=False
    )
    return buffer.getvalue()


def make(name: str) -> bytes:
    number = list(GENERATORS).index(name) + 1
    return encode(GENERATORS[name](number))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    for name in GENERATORS:
        (IMAGES_DIR / f"{name}.dcm").write_bytes(make(name))
    print(f"wrote {len(GENERATORS)} files to {IMAGES_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
