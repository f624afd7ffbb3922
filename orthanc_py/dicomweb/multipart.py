"""``multipart/related`` bodies (RFC 2387), written for WADO-RS and read for STOW-RS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from starlette.responses import StreamingResponse


def parse_media_type(header: str) -> tuple[str, dict[str, str]]:
    """``multipart/related; type="application/dicom"; boundary=x`` → (media type, parameters)."""
    parts = _split_params(header)
    media = parts[0].strip().lower() if parts else ""
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return media, params


def _split_params(header: str) -> list[str]:
    """Split on ``;`` outside quotes (a quoted type may hold a ``;``)."""
    parts, current, quoted = [], "", False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


@dataclass(frozen=True)
class Part:
    content_type: str
    data: bytes


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """The parts of a multipart body; text before the first and after the closing boundary is ignored."""
    delimiter = b"--" + boundary.encode("latin_1")
    parts: list[Part] = []
    position = body.find(delimiter)
    while position >= 0:
        start = position + len(delimiter)
        if body[start : start + 2] == b"--":
            break
        next_position = body.find(b"\r\n" + delimiter, start)
        end = next_position if next_position >= 0 else len(body)
        chunk = body[start:end]
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:  # a part without headers
            head, data = b"", chunk
        content_type = ""
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-type":
                content_type = value.decode("latin_1").strip()
        parts.append(Part(content_type, data))
        if next_position < 0:
            break
        position = next_position + 2
    return parts


def new_boundary() -> str:
    return uuid.uuid4().hex


def part_header(boundary: str, content_type: str, size: int, location: str | None = None) -> bytes:
    header = f"--{boundary}\r\n"
    if location:
        header += f"Content-Location: {location}\r\n"
    header += f"Content-Type: {content_type}\r\nContent-Length: {size}\r\n"
    return (header + "MIME-Version: 1.0\r\n\r\n").encode("latin_1")


PartSource = Callable[[], Awaitable[tuple[str, bytes]]]


def constant_part(content_type: str, data: bytes) -> PartSource:
    async def read() -> tuple[str, bytes]:
        return content_type, data

    return read


def multipart_response(
    sources: list[PartSource], part_type: str, locations: list[str] | None = None
) -> StreamingResponse:
    """A streamed ``multipart/related`` answer; each source is read only when its part is sent."""
    boundary = new_boundary()

    async def stream() -> AsyncIterator[bytes]:
        for i, source in enumerate(sources):
            content_type, data = await source()
            location = locations[i] if locations else None
            yield part_header(boundary, content_type, len(data), location) + data + b"\r\n"
        yield f"--{boundary}--\r\n".encode("latin_1")

    media = f'multipart/related; type="{part_type}"; boundary={boundary}'
    return StreamingResponse(stream(), media_type=media)
