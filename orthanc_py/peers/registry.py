"""Orthanc peers (Orthanc's ``WebServiceParameters``) and where they are declared.

A peer is ``["url"]``, ``["url", "user", "password"]`` or an object (``Url``, ``Username``,
``Password``, ``HttpHeaders``, ``CertificateFile``, ``CertificateKeyFile``, ``CertificateKeyPassword``,
``Pkcs11``, ``Timeout`` and free user properties).

As for modalities: with ``OrthancPeersInDatabase`` the peers live in the index (shared by every
process, the configuration's ``OrthancPeers`` ignored, as in Orthanc); otherwise PUT and DELETE
change this process's copy of the configuration, as Orthanc changes its in-memory configuration.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ErrorCode, OrthancError

_RESERVED = {
    "CertificateFile",
    "CertificateKeyFile",
    "CertificateKeyPassword",
    "HttpHeaders",
    "Password",
    "Pkcs11",
    "Url",
    "URL",
    "Username",
    "Timeout",
}


def _bad(details: str | None = None) -> OrthancError:
    return OrthancError(ErrorCode.BadFileFormat, details)


def _string(value: dict[str, Any], key: str) -> str:
    item = value.get(key, "")
    if not isinstance(item, str):
        raise _bad(f'The field "{key}" of a peer must be a string')
    return item


@dataclass(frozen=True)
class OrthancPeer:
    name: str
    url: str
    username: str = ""
    password: str = ""
    certificate_file: str = ""
    certificate_key_file: str = ""
    certificate_key_password: str = ""
    pkcs11: bool = False
    timeout: int = 0  # seconds; 0: HttpTimeout
    http_headers: dict[str, str] = field(default_factory=dict)
    user_properties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, name: str, value: Any) -> OrthancPeer:
        if isinstance(value, list):
            if len(value) not in (1, 3) or not all(isinstance(v, str) for v in value):
                raise _bad("A peer is [url] or [url, username, password]")
            url, username, password = (value + ["", ""])[:3]
            return cls(name, _url(url), *_credentials(username, password))
        if not isinstance(value, dict):
            raise _bad("A peer is an array or an object")
        url = _string(value, "Url") or _string(value, "URL")
        username, password = _credentials(_string(value, "Username"), _string(value, "Password"))
        certificate = _string(value, "CertificateFile")
        key_password = _string(value, "CertificateKeyPassword")
        if certificate and not key_password:
            raise _bad(f"The password for the HTTPS certificate is not provided: {certificate}")
        pkcs11 = value.get("Pkcs11", False)
        if not isinstance(pkcs11, bool):
            raise _bad('The field "Pkcs11" of a peer must be a Boolean')
        timeout = value.get("Timeout", 0)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
            raise _bad('The field "Timeout" of a peer must be a positive integer')
        headers = value.get("HttpHeaders", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise _bad('"HttpHeaders" of a peer must be an object of strings')
        properties: dict[str, str] = {}
        for key, item in value.items():
            if key in _RESERVED:
                continue
            if isinstance(item, bool):
                properties[key] = "1" if item else "0"
            elif isinstance(item, (str, int)):
                properties[key] = str(item)
            else:
                raise _bad(f"User-defined properties associated with a Web service must be strings: {key}")
        return cls(
            name,
            _url(url),
            username,
            password,
            certificate_file=certificate,
            certificate_key_file=_string(value, "CertificateKeyFile") if certificate else "",
            certificate_key_password=key_password if certificate else "",
            pkcs11=pkcs11,
            timeout=timeout,
            http_headers=dict(headers),
            user_properties=properties,
        )

    def _advanced(self) -> bool:
        return bool(
            self.certificate_file or self.pkcs11 or self.http_headers or self.user_properties or self.timeout
        )

    def serialize(self, *, advanced: bool = False, passwords: bool = False) -> Any:
        """Orthanc's ``WebServiceParameters::Serialize``: the array form when it is enough."""
        if not (advanced or self._advanced()):
            if not (self.username or self.password):
                return [self.url]
            return [self.url, self.username, self.password if passwords else ""]
        value: dict[str, Any] = {"Url": self.url}
        if self.username or self.password:
            value["Username"] = self.username
            if passwords:
                value["Password"] = self.password
        if self.certificate_file:
            value["CertificateFile"] = self.certificate_file
        if self.certificate_key_file:
            value["CertificateKeyFile"] = self.certificate_key_file
        if self.certificate_key_password and passwords:
            value["CertificateKeyPassword"] = self.certificate_key_password
        value["Pkcs11"] = self.pkcs11
        value["HttpHeaders"] = dict(self.http_headers)
        value["Timeout"] = self.timeout
        value.update(self.user_properties)
        return value

    def public_json(self) -> dict[str, Any]:
        """Orthanc's ``FormatPublic`` (``/peers?expand``, ``/peers/{id}/configuration``): no secrets."""
        value: dict[str, Any] = {"Url": self.url}
        if self.username:
            value["Username"] = self.username
            value["Password"] = None
        if self.certificate_file:
            value["CertificateFile"] = self.certificate_file
            value["CertificateKeyFile"] = None
            value["CertificateKeyPassword"] = None
        value["Pkcs11"] = self.pkcs11
        value["HttpHeaders"] = sorted(self.http_headers)
        value["Timeout"] = self.timeout
        value.update(self.user_properties)
        return value


def _url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise _bad(f"Bad URL: {url}")
    return url if url.endswith("/") else url + "/"


def _credentials(username: str, password: str) -> tuple[str, str]:
    if not username and password:
        raise _bad("A password is given for a peer without a username")
    return username, password


class PeerRegistry:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.in_database = bool(context.settings.orthanc_peers_in_database)
        self._configured: dict[str, OrthancPeer] = {}
        if not self.in_database:
            for name, value in (context.settings.orthanc_peers or {}).items():
                try:
                    self._configured[name] = OrthancPeer.from_json(name, value)
                except OrthancError as error:
                    raise _bad(f"Bad definition of the Orthanc peer {name!r}: {error.details}") from None

    async def list(self) -> list[OrthancPeer]:
        if not self.in_database:
            return [self._configured[name] for name in sorted(self._configured)]
        async with self.context.index.transaction() as tx:
            rows = await tx.list_peers()
        return [OrthancPeer.from_json(name, json.loads(text)) for name, text in sorted(rows.items())]

    async def get(self, name: str) -> OrthancPeer:
        for peer in await self.list():
            if peer.name == name:
                return peer
        raise OrthancError(ErrorCode.InexistentItem, f"No peer with symbolic name: {name}")

    async def put(self, peer: OrthancPeer) -> None:
        if not self.in_database:
            self._configured[peer.name] = peer
            return
        text = json.dumps(peer.serialize(advanced=True, passwords=True))
        async with self.context.index.transaction(write=True) as tx:
            await tx.set_peer(peer.name, text)

    async def delete(self, name: str) -> None:
        if not self.in_database:
            self._configured.pop(name, None)
            return
        async with self.context.index.transaction(write=True) as tx:
            await tx.delete_peer(name)


_REGISTRIES: weakref.WeakKeyDictionary[Any, PeerRegistry] = weakref.WeakKeyDictionary()


def peers_of(context: Any) -> PeerRegistry:
    """The one peer registry of a ServerContext (REST routes and jobs share it)."""
    registry = _REGISTRIES.get(context)
    if registry is None:
        registry = _REGISTRIES[context] = PeerRegistry(context)
    return registry
