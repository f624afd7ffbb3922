"""Remote DICOMweb servers: ``DicomWeb.Servers`` of the configuration plus those defined over REST.

``GET /dicom-web/servers[?expand]``, ``GET|PUT|DELETE /dicom-web/servers/{name}``. A definition is
``[url, username, password]`` or ``{"Url", "Username", "Password", "HttpHeaders", "HasDelete",
"Timeout", "Pkcs11", ...}`` as in the plugin. Those defined over REST live in the index (every
process sees them); deleting a configured one leaves a mark there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..core.context import ServerContext
from ..core.errors import ErrorCode, OrthancError
from ..rest.responses import OrthancJSONResponse, empty_json
from .config import dicomweb_config

OPERATIONS = ["get", "retrieve", "stow", "wado", "qido"]


@dataclass(frozen=True)
class RemoteServer:
    url: str
    username: str | None = None
    password: str | None = None
    http_headers: dict[str, str] = field(default_factory=dict)
    has_delete: bool | None = None
    timeout: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # other keys, kept as given

    @staticmethod
    def parse(value: Any) -> RemoteServer:
        if isinstance(value, list):
            if not 1 <= len(value) <= 3 or not all(isinstance(v, str) for v in value):
                raise OrthancError(ErrorCode.BadFileFormat, "Bad DICOMweb server definition")
            url, username, password = (list(value) + [None, None])[:3]
            return RemoteServer(_url(url), username, password)
        if not isinstance(value, dict):
            raise OrthancError(ErrorCode.BadFileFormat, "Bad DICOMweb server definition")
        headers = value.get("HttpHeaders") or {}
        if not isinstance(headers, dict):
            raise OrthancError(ErrorCode.BadFileFormat, '"HttpHeaders" must be a JSON object')
        has_delete = value.get("HasDelete")
        known = {"Url", "Username", "Password", "HttpHeaders", "HasDelete", "Timeout"}
        return RemoteServer(
            url=_url(value.get("Url")),
            username=value.get("Username"),
            password=value.get("Password"),
            http_headers={str(k): str(v) for k, v in headers.items()},
            has_delete=None if has_delete is None else has_delete in (True, "1", "true"),
            timeout=int(value.get("Timeout") or 0),
            extra={k: v for k, v in value.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        """The stored definition (with the password)."""
        out: dict[str, Any] = {"Url": self.url, "HttpHeaders": self.http_headers, "Timeout": self.timeout}
        if self.username is not None:
            out["Username"] = self.username
            out["Password"] = self.password
        if self.has_delete is not None:
            out["HasDelete"] = self.has_delete
        return {**self.extra, **out}

    def public_json(self) -> dict[str, Any]:
        """As ``?expand`` shows it: header names only, no password."""
        out: dict[str, Any] = {
            "HttpHeaders": sorted(self.http_headers),
            "Pkcs11": bool(self.extra.get("Pkcs11", False)),
            "Timeout": self.timeout,
            "Url": self.url,
        }
        if self.username is not None:
            out["Username"] = self.username
            out["Password"] = None
        if self.has_delete is not None:
            out["HasDelete"] = "1" if self.has_delete else "0"
        return out


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise OrthancError(ErrorCode.BadFileFormat, "Empty URL")
    return value if value.endswith("/") else value + "/"


async def all_servers(request: Request) -> dict[str, RemoteServer]:
    context: ServerContext = request.app.state.context
    servers = {name: RemoteServer.parse(v) for name, v in dicomweb_config(request).servers.items()}
    async with context.index.transaction() as tx:
        stored = await tx.list_dicomweb_servers()
    for name, text in stored.items():
        if text is None:
            servers.pop(name, None)
        else:
            servers[name] = RemoteServer.parse(orjson.loads(text))
    return dict(sorted(servers.items()))


async def server_named(request: Request, name: str) -> RemoteServer:
    server = (await all_servers(request)).get(name)
    if server is None:
        raise OrthancError(ErrorCode.InexistentItem, f"Inexistent server: {name}", http_status=404)
    return server


async def list_servers(request: Request) -> Response:
    servers = await all_servers(request)
    if "expand" in request.query_params:
        return OrthancJSONResponse({name: s.public_json() for name, s in servers.items()})
    return OrthancJSONResponse(list(servers))


async def get_server(request: Request) -> Response:
    await server_named(request, request.path_params["name"])
    return OrthancJSONResponse(OPERATIONS)


async def put_server(request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as e:
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object or array") from e
    server = RemoteServer.parse(body)
    context: ServerContext = request.app.state.context
    async with context.index.transaction(write=True) as tx:
        await tx.set_dicomweb_server(request.path_params["name"], orjson.dumps(server.to_json()).decode())
    return empty_json()


async def delete_server(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in await all_servers(request):
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Unknown DICOMweb server: {name}")
    context: ServerContext = request.app.state.context
    async with context.index.transaction(write=True) as tx:
        if name in dicomweb_config(request).servers:
            await tx.set_dicomweb_server(name, None)
        else:
            await tx.delete_dicomweb_server(name)
    return empty_json()
