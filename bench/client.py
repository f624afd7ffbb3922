"""A minimal keep-alive HTTP client (``http.client``), cheap enough not to be the bottleneck.

One :class:`Client` per thread. No ``Accept-Encoding`` is sent, so neither server spends time
compressing answers.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A persistent connection to one server, reopened once if the server closed it."""

    def __init__(self, host: str, port: int, timeout: float = 300.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._connection

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> Response:
        headers = {"Content-Type": content_type} if content_type else {}
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    self.close()
                return Response(response.status, data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server had closed: retry once on a new one.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_json(self, path: str, payload: Any) -> Response:
        return self.request("POST", path, json.dumps(payload).encode(), "application/json")

    def post_dicom(self, path: str, data: bytes) -> Response:
        return self.request("POST", path, data, "application/dicom")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
