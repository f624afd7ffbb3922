"""Orthanc's HTTP access rules as ASGI middleware, in front of every route.

``RemoteAccessAllowed: false`` answers 403 to anything but loopback clients; with
``AuthenticationEnabled``, HTTP Basic credentials must match ``RegisteredUsers`` or the answer is
401 with ``WWW-Authenticate`` (Orthanc's realm).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import ipaddress
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings

logger = logging.getLogger(__name__)

REALM = 'Basic realm="Orthanc Secure Area"'


@functools.lru_cache(maxsize=4096)  # asked on every request, of the few addresses of the clients
def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def check_credentials(header: bytes | None, users: dict[str, str]) -> str | None:
    """The user name when ``header`` is valid Basic credentials of a registered user, else None."""
    if not header or not header[:6].lower() == b"basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or user not in users:
        return None
    if not hmac.compare_digest(users[user].encode("utf-8"), password.encode("utf-8")):
        return None
    return user


class AccessControl:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = client[0] if client else None
        if not self.settings.remote_access_allowed and not is_loopback(host):
            logger.info("Refusing a request from %s: remote access is not allowed", host)
            await _respond(send, 403, [])
            return
        if self.settings.authentication_enabled:
            header = dict(scope.get("headers", [])).get(b"authorization")
            user = check_credentials(header, self.settings.registered_users)
            if user is None:
                await _respond(send, 401, [(b"www-authenticate", REALM.encode())])
                return
            scope["orthanc.username"] = user
        await self.app(scope, receive, send)


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0"), *headers]}
    )
    await send({"type": "http.response.body", "body": b""})
