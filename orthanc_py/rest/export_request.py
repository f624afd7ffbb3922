"""The body of the routes that send resources elsewhere (``/modalities/{id}/store``,
``/peers/{id}/store``): Orthanc's GetInstancesToExport."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ..core.errors import ErrorCode, OrthancError


def _is_public_id(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 5 and all(len(p) == 8 and all(c in "0123456789abcdef" for c in p) for p in parts)


async def parse_export_request(request: Request) -> tuple[list[str], dict[str, Any]]:
    """The resources to send (an ID, a list of IDs, or ``{"Resources": [...], ...}``) and the
    other fields of the body."""
    raw = (await request.body()).decode("utf-8", "replace").strip()
    body: Any
    if _is_public_id(raw):
        body = [raw]
    else:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise OrthancError(ErrorCode.BadFileFormat, "Must provide a JSON value") from e
    if isinstance(body, str):
        body = [body]
    others: dict[str, Any] = {}
    if isinstance(body, dict):
        if "Resources" not in body:
            raise OrthancError(ErrorCode.BadFileFormat, 'Missing field in JSON: "Resources"')
        resources = body["Resources"]
        if not isinstance(resources, list):
            raise OrthancError(
                ErrorCode.BadFileFormat, "JSON array of strings is expected in field: Resources"
            )
        others = {k: v for k, v in body.items() if k != "Resources"}
    elif isinstance(body, list):
        resources = body
    else:
        raise OrthancError(ErrorCode.BadFileFormat, "Must provide a JSON object, or a JSON array of strings")
    ids: list[str] = []
    for item in resources:
        if not isinstance(item, str):
            raise OrthancError(
                ErrorCode.BadFileFormat,
                "Resources to be exported must be specified as a JSON array of strings",
            )
        if not _is_public_id(item.strip()):
            raise OrthancError(
                ErrorCode.BadFileFormat, f"This string is not a valid Orthanc identifier: {item}"
            )
        ids.append(item.strip())
    return ids, others


def optional_bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise OrthancError(ErrorCode.BadFileFormat, f'The field "{name}" must be a Boolean')
    return value


def optional_int(body: dict[str, Any], name: str, default: int = 0) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrthancError(ErrorCode.BadFileFormat, f'The field "{name}" must be an integer')
    return value


def optional_str(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise OrthancError(ErrorCode.BadFileFormat, f'The field "{name}" must be a string')
    return value
