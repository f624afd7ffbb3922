"""Orthanc's StorageCompression format: 8-byte little-endian size, then a zlib stream (level 6)."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orthanc_py.storage.compression import (
    DEFAULT_LEVEL,
    PREFIX_SIZE,
    compress,
    decompress,
    uncompressed_size,
)


def test_empty_input_compresses_to_empty_output() -> None:
    assert compress(b"") == b""
    assert decompress(b"") == b""
    assert uncompressed_size(b"") == 0


def test_header_is_little_endian_uncompressed_size_then_zlib() -> None:
    data = b"DICM" * 1000
    compressed = compress(data)
    assert compressed[:PREFIX_SIZE] == struct.pack("<Q", len(data))
    assert compressed[:PREFIX_SIZE] == len(data).to_bytes(8, "little")
    assert zlib.decompress(compressed[PREFIX_SIZE:]) == data
    assert uncompressed_size(compressed) == len(data)


def test_same_bytes_as_orthanc_zlib_compressor() -> None:
    # ZlibCompressor::Compress = size prefix + compress2(level 6): byte-identical with the same zlib.
    data = bytes(range(256)) * 40
    assert DEFAULT_LEVEL == 6
    assert compress(data) == struct.pack("<Q", len(data)) + zlib.compress(data, 6)


def test_reads_what_orthanc_writes_at_any_level() -> None:
    data = b"\x00\x01" * 5000
    for level in range(10):
        assert decompress(struct.pack("<Q", len(data)) + zlib.compress(data, level)) == data
        assert decompress(compress(data, level)) == data


@given(st.binary(max_size=50_000))
def test_round_trip(data: bytes) -> None:
    assert decompress(compress(data)) == data


@pytest.mark.parametrize("level", [-1, 10])
def test_level_out_of_range(level: int) -> None:
    with pytest.raises(ValueError):
        compress(b"x", level)


def test_shorter_than_prefix() -> None:
    with pytest.raises(ValueError, match="ill-formed"):
        decompress(b"\x01\x00\x00")


def test_not_a_zlib_stream() -> None:
    with pytest.raises(ValueError, match="Corrupted"):
        decompress(struct.pack("<Q", 5) + b"hello")


@pytest.mark.parametrize("announced", [0, 4, 6, 2**63])
def test_size_mismatch(announced: int) -> None:
    stream = zlib.compress(b"hello", 6)
    with pytest.raises(ValueError, match="Corrupted"):
        decompress(struct.pack("<Q", announced) + stream)


def test_truncated_stream() -> None:
    compressed = compress(b"some DICOM bytes" * 100)
    for cut in (PREFIX_SIZE, PREFIX_SIZE + 1, len(compressed) // 2, len(compressed) - 1):
        with pytest.raises(ValueError):
            decompress(compressed[:cut])


def test_trailing_bytes() -> None:
    with pytest.raises(ValueError, match="trailing"):
        decompress(compress(b"hello") + b"\x00")


@given(st.binary(min_size=1, max_size=2000), st.data())
def test_corruption_is_detected(data: bytes, draw: st.DataObject) -> None:
    compressed = bytearray(compress(data))
    position = draw.draw(st.integers(0, len(compressed) - 1))
    compressed[position] ^= draw.draw(st.integers(1, 255))
    try:
        result = decompress(bytes(compressed))
    except ValueError:
        return
    assert result == data  # a flip in a don't-care bit is the only way to get here


@given(st.binary(max_size=200))
def test_garbage_raises_only_value_error(garbage: bytes) -> None:
    try:
        decompress(garbage)
    except ValueError:
        pass
