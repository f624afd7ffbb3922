"""The HTTP client of Orthanc peers (and of any Orthanc-like web service): aiohttp, with the peer's
credentials, HTTP headers, client certificate and timeout (``HttpTimeout`` by default)."""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import orjson

from ..config import Settings
from ..core.errors import ErrorCode, OrthancError
from .registry import OrthancPeer


class PeerClient:
    """One session to one peer; use as ``async with PeerClient(peer, settings) as client``."""

    def __init__(self, peer: OrthancPeer, settings: Settings) -> None:
        self.peer = peer
        seconds = peer.timeout or settings.http_timeout
        self._timeout = aiohttp.ClientTimeout(total=seconds if seconds > 0 else None)
        self._ssl: ssl.SSLContext | bool = True
        if peer.url.startswith("https://"):
            context = ssl.create_default_context()
            if not settings.https_verify_peers:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if peer.certificate_file:
                context.load_cert_chain(
                    peer.certificate_file,
                    peer.certificate_key_file or None,
                    peer.certificate_key_password or None,
                )
            self._ssl = context
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PeerClient:
        auth = aiohttp.BasicAuth(self.peer.username, self.peer.password) if self.peer.username else None
        self._session = aiohttp.ClientSession(
            auth=auth, headers=self.peer.http_headers, timeout=self._timeout
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> bytes:
        """The body of a successful answer; an OrthancError naming the peer otherwise."""
        if self._session is None:
            await self.__aenter__()
        assert self._session is not None
        url = self.peer.url + path.lstrip("/")
        try:
            async with self._session.request(method, url, data=data, headers=headers, ssl=self._ssl) as r:
                body = await r.read()
                if r.status >= 400:
                    raise OrthancError(
                        ErrorCode.NetworkProtocol,
                        f"HTTP status {r.status} from the Orthanc peer {self.peer.name!r} ({method} {url})",
                    )
                return body
        except TimeoutError as e:
            raise OrthancError(ErrorCode.Timeout, f"Timeout of the HTTP request to {url}") from e
        except aiohttp.ClientError as e:
            raise OrthancError(
                ErrorCode.NetworkProtocol, f"Cannot reach the Orthanc peer {self.peer.name!r} at {url}: {e}"
            ) from e

    async def get_json(self, path: str) -> Any:
        body = await self.request("GET", path)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise OrthancError(ErrorCode.NetworkProtocol, f"Not JSON from the Orthanc peer at {path}") from e

    async def store(self, dicom: bytes) -> Any:
        """POST one DICOM file to the peer's ``/instances``; its JSON answer."""
        body = await self.request("POST", "instances", dicom, {"Content-Type": "application/dicom"})
        return orjson.loads(body) if body else {}
