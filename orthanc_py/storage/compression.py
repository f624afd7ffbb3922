"""Orthanc's ``StorageCompression`` format, so that a storage folder can move between Orthanc and us.

With ``"StorageCompression": true`` Orthanc stores attachments as ``CompressionType_ZlibWithSize``,
written by ``ZlibCompressor`` (OrthancFramework/Sources/Compression/ZlibCompressor.cpp) with its
size prefix switched on:

* 8 bytes: the uncompressed size, as a little-endian ``uint64`` (Orthanc ``memcpy``s a ``uint64_t``,
  and every platform it runs on is little-endian);
* then one zlib stream (RFC 1950: header, deflate data, Adler-32), as made by ``compress2()`` at the
  default level of ``DeflateBaseCompressor``, 6.

An empty input is the one exception: it compresses to an empty buffer (no prefix, no stream), and an
empty buffer decompresses to empty content.

Reading is stricter than Orthanc's ``uncompress()`` call, which neither checks that the stream
filled the announced size nor looks past its end: a short, long, truncated or padded payload here
raises ``ValueError``, since it can only be corruption, and silently zero-padded DICOM is worse than
an error.
"""

from __future__ import annotations

import struct
import sys
import zlib

DEFAULT_LEVEL = 6  # DeflateBaseCompressor::compressionLevel_
PREFIX = struct.Struct("<Q")
PREFIX_SIZE = PREFIX.size  # 8


def compress(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """Compress ``data`` the way Orthanc's ZlibCompressor does (prefix + zlib stream)."""
    if not 0 <= level <= 9:
        raise ValueError(
            "Zlib compression level must be between 0 (no compression) and 9 (highest compression)"
        )
    if not data:
        return b""
    return PREFIX.pack(len(data)) + zlib.compress(data, level)


def uncompressed_size(data: bytes) -> int:
    """The size announced by the prefix (0 for an empty buffer), without decompressing."""
    if not data:
        return 0
    if len(data) < PREFIX_SIZE:
        raise ValueError("The compressed buffer is ill-formed (shorter than its 8-byte size prefix)")
    size: int = PREFIX.unpack_from(data)[0]
    return size


def decompress(data: bytes) -> bytes:
    """Decompress an attachment written by :func:`compress` or by Orthanc; ValueError if corrupt."""
    size = uncompressed_size(data)
    if not data:
        return b""
    decompressor = zlib.decompressobj()
    # Never inflate past the announced size (+1 byte, to notice a payload that is too long): a
    # corrupt or hostile stream cannot make us allocate more than the header promised.
    limit = min(size, sys.maxsize - 1) + 1
    try:
        content = decompressor.decompress(memoryview(data)[PREFIX_SIZE:], limit)
    except zlib.error as error:
        raise ValueError(f"Corrupted compressed attachment: {error}") from None
    if len(content) != size:
        if len(content) > size:
            raise ValueError(f"Corrupted compressed attachment: more than the announced {size} bytes")
        if not decompressor.eof:
            raise ValueError("Corrupted compressed attachment: the zlib stream is truncated")
        raise ValueError(
            f"Corrupted compressed attachment: {len(content)} bytes instead of the announced {size}"
        )
    if not decompressor.eof:
        # Exactly the announced size came out but the stream has not ended: it is truncated (or
        # holds more data than announced, which the next decompress call would reveal).
        raise ValueError(
            "Corrupted compressed attachment: the zlib stream is truncated or longer than announced"
        )
    if decompressor.unused_data:
        raise ValueError("Corrupted compressed attachment: trailing bytes after the zlib stream")
    return content
