"""Orthanc's pixel arithmetic, checked against a plain scalar model of its C++ loops."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from orthanc_py.imaging import decoding, encoding, formats, rendering
from orthanc_py.imaging.decoding import DecodedFrame, ImageInfo, PixelFormat


def _info(bits_stored: int, signed: bool) -> ImageInfo:
    return ImageInfo(2, 2, 1, 16, bits_stored, bits_stored - 1, signed, 1, False, "MONOCHROME2")


@given(st.integers(0, 0xFFFF), st.integers(1, 16), st.booleans())
def test_stored_value_keeps_the_low_bits_with_their_sign(raw: int, bits: int, signed: bool) -> None:
    value = raw & ((1 << bits) - 1)
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    got = decoding._through_bits(np.array([raw], np.int64), _info(bits, signed))
    assert int(got[0]) == value


@given(st.lists(st.integers(-32768, 65535), min_size=1, max_size=50))
def test_preview_stretches_min_to_0_and_max_to_255(values: list[int]) -> None:
    frame = DecodedFrame(np.array([values], np.int64), PixelFormat.GRAYSCALE16)
    result = rendering.preview(frame).pixels
    assert result.dtype == np.uint8
    if min(values) == max(values):
        assert (result == 0).all()
    else:
        assert result[0, values.index(min(values))] == 0
        assert result[0, values.index(max(values))] == 255
        order = np.argsort(values, kind="stable")
        assert (np.diff(result[0, order].astype(int)) >= 0).all()  # monotonic


@given(st.integers(-70000, 70000))
def test_conversions_clamp(value: int) -> None:
    frame = DecodedFrame(np.array([[value]], np.int64), PixelFormat.GRAYSCALE32)  # any wider source
    assert int(rendering.convert(frame, PixelFormat.GRAYSCALE8).pixels[0, 0]) == min(max(value, 0), 255)
    assert int(rendering.convert(frame, PixelFormat.GRAYSCALE16).pixels[0, 0]) == min(max(value, 0), 65535)
    signed = rendering.convert(frame, PixelFormat.SIGNED_GRAYSCALE16).pixels[0, 0]
    assert int(signed) == min(max(value, -32768), 32767)


@given(st.text(alphabet="imagepnjg/*,;q=0.5 x-", max_size=40))
def test_negotiation_answers_an_offered_type_or_none(accept: str) -> None:
    assert encoding.negotiate(accept) in (*encoding.OFFERED, None)


def test_negotiation_follows_quality_then_order() -> None:
    assert encoding.negotiate(None) == encoding.MIME_PNG
    assert encoding.negotiate("image/jpeg;q=0.5, image/png;q=0.4") == encoding.MIME_JPEG
    assert encoding.negotiate("image/gif, */*;q=0.1") == encoding.MIME_PNG
    assert encoding.negotiate("text/html") is None


@given(st.lists(st.integers(0, 65535), min_size=1, max_size=30))
def test_png_16_bits_round_trip(values: list[int]) -> None:
    frame = DecodedFrame(np.array([values], np.uint16), PixelFormat.GRAYSCALE16)
    decoded = np.asarray(Image.open(io.BytesIO(encoding.encode_png(frame))))
    assert decoded.astype(np.uint16).tolist() == [values]


def test_numpy_header_as_orthanc_writes_it() -> None:
    header = formats.numpy_header(0, 16, 12, PixelFormat.GRAYSCALE16)
    assert len(header) % 64 == 0 and header.endswith(b"\n")
    assert header.startswith(b"\x93NUMPY\x01\x00")
    assert b"{'descr': '<u2', 'fortran_order': False, 'shape': (12,16,1), }" in header
    frame = DecodedFrame(np.arange(6, dtype=np.uint16).reshape(2, 3), PixelFormat.GRAYSCALE16)
    loaded = np.load(io.BytesIO(formats.to_numpy([(frame, (0.0, 1.0))], 0, rescale=False, compress=False)))
    assert loaded.shape == (2, 3, 1) and loaded[..., 0].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_ycbcr_conversion_of_neutral_gray_is_gray() -> None:
    rgb = decoding.ycbcr_to_rgb(np.array([[[100, 128, 128]]]))
    assert rgb.tolist() == [[[100, 100, 100]]]
