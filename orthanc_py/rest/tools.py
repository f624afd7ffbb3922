"""``/tools/*`` housekeeping routes: UIDs, clocks, log level, reset, shutdown, encodings."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
import uuid
from collections.abc import Awaitable, Callable

from pydicom.uid import generate_uid
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .. import __version__
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..logging_setup import get_log_level, set_log_level
from .context_access import context_of
from .responses import OrthancJSONResponse, empty_json

logger = logging.getLogger(__name__)

# DCMTK's UID root, under which Orthanc generates its UIDs (``FromDcmtkBridge::GenerateUuid``).
UID_ROOT = "1.2.276.0.7230010.3.1."
_UID_LEVEL_SUFFIX = {
    ResourceLevel.PATIENT: "",
    ResourceLevel.STUDY: "2.",
    ResourceLevel.SERIES: "3.",
    ResourceLevel.INSTANCE: "4.",
}

ENCODINGS = (
    "Ascii",
    "Utf8",
    "Latin1",
    "Latin2",
    "Latin3",
    "Latin4",
    "Latin5",
    "Cyrillic",
    "Windows1251",
    "Arabic",
    "Greek",
    "Hebrew",
    "Thai",
    "Japanese",
    "Chinese",
    "JapaneseKanji",
    "Korean",
    "SimplifiedChinese",
)


def text(content: str) -> Response:
    return PlainTextResponse(content)


async def generate_uid_route(request: Request) -> Response:
    try:
        level = ResourceLevel.parse(request.query_params.get("level", ""))
    except ValueError:
        return Response(status_code=404)  # Orthanc's answer to a missing or unknown level
    if level is ResourceLevel.PATIENT:
        return text(str(uuid.uuid4()))  # patient IDs are not DICOM UIDs: Orthanc gives a UUID
    return text(generate_uid(prefix=UID_ROOT + _UID_LEVEL_SUFFIX[level]))


async def now_utc(request: Request) -> Response:
    return text(datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S"))


async def now_local(request: Request) -> Response:
    return text(datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))


async def get_level(request: Request) -> Response:
    return text(get_log_level())


async def put_level(request: Request) -> Response:
    value = (await request.body()).decode("utf-8", "replace").strip()
    try:
        set_log_level(value)
    except ValueError as e:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Unknown log level: {value}") from e
    return text(get_log_level())


async def reset(request: Request) -> Response:
    # Orthanc re-reads its configuration and restarts in place; a clean restart of the process
    # manager does the same here, so we restart the server context.
    logger.warning("Reset requested through the REST API")
    restart = getattr(request.app.state, "restart", None)
    if restart is not None:
        asyncio.get_running_loop().call_soon(restart)
    return empty_json()


async def shutdown(request: Request) -> Response:
    logger.warning("Shutdown requested through the REST API")
    stop = getattr(request.app.state, "shutdown", None)
    if stop is not None:
        asyncio.get_running_loop().call_later(0.1, stop)
    else:
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
    return empty_json()


async def dicom_conformance(request: Request) -> Response:
    return text(CONFORMANCE_STATEMENT)


async def get_default_encoding(request: Request) -> Response:
    return text(context_of(request).settings.default_encoding)


async def put_default_encoding(request: Request) -> Response:
    value = (await request.body()).decode("utf-8", "replace").strip()
    if value not in ENCODINGS:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Unknown encoding: {value}")
    context_of(request).settings.default_encoding = value
    return text(value)


# Orthanc's default "AcceptedTransferSyntaxes": every transfer syntax DCMTK knows.
ACCEPTED_TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
    *(f"1.2.840.10008.1.2.4.{n}" for n in (*range(50, 67), 70, 80, 81, 90, 91, 92, 93, 94, 95)),
    *(f"1.2.840.10008.1.2.4.{n}" for n in range(100, 109)),
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.6.1",
    "1.2.840.10008.1.2.6.2",
]


async def accepted_transfer_syntaxes(request: Request) -> Response:
    return OrthancJSONResponse(ACCEPTED_TRANSFER_SYNTAXES)


async def unknown_sop_class_accepted(request: Request) -> Response:
    return text("0")


def make_tools_index(route_table: list[Route]) -> Callable[[Request], Awaitable[Response]]:
    """``GET /tools``: the names of the ``/tools/*`` routes this server offers."""
    names = sorted({r.path.split("/")[2] for r in route_table if r.path.startswith("/tools/")})

    async def tools_index(request: Request) -> Response:
        return OrthancJSONResponse(names)

    return tools_index


CONFORMANCE_STATEMENT = f"""orthanc_py {__version__} DICOM conformance statement

Application entity: the AET of the "DicomAet" configuration option (default ORTHANC).

Storage SCP: accepts the storage SOP classes of the DICOM standard in the transfer syntaxes
Implicit VR Little Endian, Explicit VR Little Endian, Explicit VR Big Endian, Deflated Explicit VR
Little Endian, and the JPEG, JPEG-LS, JPEG 2000, RLE and MPEG families.

Verification SCP and SCU (C-ECHO).
Query/Retrieve SCP (C-FIND, C-MOVE, C-GET) at the patient, study, series and instance levels, with
the Patient Root and Study Root information models.
"""


routes = [
    Route("/tools/generate-uid", generate_uid_route, methods=["GET"]),
    Route("/tools/now", now_utc, methods=["GET"]),
    Route("/tools/now-local", now_local, methods=["GET"]),
    Route("/tools/log-level", get_level, methods=["GET"]),
    Route("/tools/log-level", put_level, methods=["PUT"]),
    Route("/tools/reset", reset, methods=["POST"]),
    Route("/tools/shutdown", shutdown, methods=["POST"]),
    Route("/tools/dicom-conformance", dicom_conformance, methods=["GET"]),
    Route("/tools/default-encoding", get_default_encoding, methods=["GET"]),
    Route("/tools/default-encoding", put_default_encoding, methods=["PUT"]),
    Route("/tools/accepted-transfer-syntaxes", accepted_transfer_syntaxes, methods=["GET"]),
    Route("/tools/unknown-sop-class-accepted", unknown_sop_class_accepted, methods=["GET"]),
]
