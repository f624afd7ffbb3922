"""The DICOMweb client as jobs, as the Orthanc DICOMweb plugin runs them: ``DicomWebStowClient``
(STOW-RS of local instances to a remote server, a batch of them per request) and
``DicomWebRetrieveClient`` (WADO-RS of remote studies or series, stored here, one request per
resource). Both save the remote server's definition with their position, so that any process can
resume them, and run synchronously or not like the other job routes (``rest/jobs.answer_job``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp

from ...config import Settings
from ...dicomweb.multipart import new_boundary, parse_media_type, parse_multipart
from ...dicomweb.servers import RemoteServer
from ..errors import ErrorCode, OrthancError
from ..identifiers import ResourceLevel
from .model import Job, job_type

if TYPE_CHECKING:
    from ..context import ServerContext

STOW_BATCH = 16  # instances per STOW-RS request, i.e. per step between which a pause or cancel is seen
WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def http_session(
    settings: Settings, server: RemoteServer, extra_headers: dict[str, str]
) -> aiohttp.ClientSession:
    """A session towards ``server``: its credentials and headers, then ``extra_headers``."""
    timeout = server.timeout or settings.http_timeout or 60
    auth = aiohttp.BasicAuth(server.username, server.password or "") if server.username else None
    connector = aiohttp.TCPConnector(ssl=bool(settings.https_verify_peers))
    return aiohttp.ClientSession(
        auth=auth,
        headers={**server.http_headers, **extra_headers},
        timeout=aiohttp.ClientTimeout(total=timeout),
        connector=connector,
    )


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "HttpHeaders" must be a JSON object')
    return {str(k): str(v) for k, v in value.items()}


class _DicomWebJob(Job):
    """What both jobs share: the remote server (by name and definition) and the extra headers."""

    def __init__(self, server_name: str, server: RemoteServer, http_headers: Any, position: int) -> None:
        self.server_name = server_name
        self.server = server
        self.http_headers = _headers(http_headers)
        self.position = position

    def _common_parameters(self) -> dict[str, Any]:
        return {
            "ServerName": self.server_name,
            "Server": self.server.to_json(),
            "HttpHeaders": self.http_headers,
            "Position": self.position,
        }

    def reset(self) -> None:
        self.position = 0

    def _unreachable(self, error: Exception, url: str) -> OrthancError:
        return OrthancError(ErrorCode.NetworkProtocol, f"Cannot reach the DICOMweb server at {url}: {error}")


@job_type
class DicomWebStowClientJob(_DicomWebJob):
    """``instances``: public IDs of the local instances to send; ``resources``: what was asked."""

    job_type = "DicomWebStowClient"

    def __init__(
        self,
        server_name: str,
        server: RemoteServer,
        instances: list[str],
        *,
        resources: list[str] | None = None,
        http_headers: Any = None,
        position: int = 0,
    ) -> None:
        super().__init__(server_name, server, http_headers, position)
        self.instances = instances
        self.resources = resources or []

    @classmethod
    def from_parameters(cls, p: dict[str, Any]) -> Job:
        return cls(
            p["ServerName"],
            RemoteServer.parse(p["Server"]),
            list(p["Instances"]),
            resources=list(p.get("Resources", [])),
            http_headers=p.get("HttpHeaders"),
            position=int(p.get("Position", 0)),
        )

    def parameters(self) -> dict[str, Any]:
        return {**self._common_parameters(), "Instances": self.instances, "Resources": self.resources}

    def content(self) -> dict[str, Any]:
        return {"Resources": self.resources, "Instances": len(self.instances)}

    def progress(self) -> float:
        return self.position / len(self.instances) if self.instances else 1.0

    async def step(self, context: ServerContext, job_id: str) -> bool:
        batch = self.instances[self.position : self.position + STOW_BATCH]
        if batch:
            boundary = new_boundary()
            parts = []
            for public_id in batch:
                data = await context.read_dicom(public_id)
                parts.append(
                    f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
                )
            await self._post(context, b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary)
            self.position += len(batch)
        return self.position >= len(self.instances)

    async def _post(self, context: ServerContext, payload: bytes, boundary: str) -> None:
        url = self.server.url + "studies"
        headers = {
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        }
        try:
            async with http_session(context.settings, self.server, self.http_headers) as session:
                async with session.post(url, data=payload, headers=headers) as answer:
                    await answer.read()
                    if answer.status >= 400:
                        raise OrthancError(
                            ErrorCode.NetworkProtocol,
                            f"The STOW-RS server answered HTTP {answer.status} ({url})",
                        )
        except aiohttp.ClientError as e:
            raise self._unreachable(e, url) from e


def retrieve_paths(resources: Any) -> list[str]:
    """The WADO-RS paths of ``[{"Study": uid, "Series": [uid, ...]}]`` (all the study without
    ``Series``); OrthancError(BadFileFormat) on another shape."""
    if not isinstance(resources, list) or not all(
        isinstance(r, dict) and isinstance(r.get("Study"), str) for r in resources
    ):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "Resources" must list {"Study": uid, ...}')
    paths = []
    for resource in resources:
        study = f"studies/{resource['Study']}"
        series = resource.get("Series") or []
        if not isinstance(series, list) or not all(isinstance(s, str) for s in series):
            raise OrthancError(ErrorCode.BadFileFormat, 'The field "Series" must list series UIDs')
        paths += [f"{study}/series/{s}" for s in series] if series else [study]
    return paths


@job_type
class DicomWebRetrieveClientJob(_DicomWebJob):
    """``paths``: WADO-RS paths below the server's URL (``retrieve_paths``); every instance
    received is stored here with Origin ``RestApi``."""

    job_type = "DicomWebRetrieveClient"

    def __init__(
        self,
        server_name: str,
        server: RemoteServer,
        paths: list[str],
        *,
        http_headers: Any = None,
        position: int = 0,
        stored: list[str] | None = None,
    ) -> None:
        super().__init__(server_name, server, http_headers, position)
        self.paths = paths
        self.stored = stored or []

    @classmethod
    def from_parameters(cls, p: dict[str, Any]) -> Job:
        return cls(
            p["ServerName"],
            RemoteServer.parse(p["Server"]),
            list(p["Paths"]),
            http_headers=p.get("HttpHeaders"),
            position=int(p.get("Position", 0)),
            stored=list(p.get("Stored", [])),
        )

    def parameters(self) -> dict[str, Any]:
        return {**self._common_parameters(), "Paths": self.paths, "Stored": self.stored}

    def content(self) -> dict[str, Any]:
        return {"Instances": self.stored, "InstancesCount": len(self.stored)}

    def progress(self) -> float:
        return self.position / len(self.paths) if self.paths else 1.0

    def reset(self) -> None:
        super().reset()
        self.stored = []

    async def step(self, context: ServerContext, job_id: str) -> bool:
        from ..context import RequestOrigin

        if self.position < len(self.paths):
            url = self.server.url + self.paths[self.position]
            try:
                async with http_session(context.settings, self.server, self.http_headers) as session:
                    async with session.get(url, headers={"Accept": WADO_ACCEPT}) as answer:
                        body = await answer.read()
                        if answer.status >= 400:
                            raise OrthancError(
                                ErrorCode.NetworkProtocol,
                                f"The WADO-RS server answered HTTP {answer.status} ({url})",
                            )
                        _, params = parse_media_type(answer.headers.get("Content-Type", ""))
            except aiohttp.ClientError as e:
                raise self._unreachable(e, url) from e
            origin = RequestOrigin(origin="RestApi")
            for part in parse_multipart(body, params.get("boundary", "")):
                result = await context.store(part.data, origin)
                self.stored.append(result.public_ids[ResourceLevel.INSTANCE])
            self.position += 1
        return self.position >= len(self.paths)
