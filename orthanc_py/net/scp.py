"""The DICOM server (SCP) on ``DicomPort`` with ``DicomAet``: start and stop.

pynetdicom accepts connections in its own thread and runs each association in another; the
handlers (``handlers.py``) bring every request back to this process's event loop. The server runs
in exactly one process: the only one with ``HttpProcesses`` 1, else a dedicated DICOM worker
(``server.py``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from pynetdicom import AE, evt
from pynetdicom.transport import ThreadedAssociationServer

from .handlers import DicomHandlers
from .modalities import registry_for
from .policy import AssociationPolicy
from .presentation import VERIFICATION

if TYPE_CHECKING:
    from ..config import Settings
    from ..core.context import ServerContext

logger = logging.getLogger(__name__)

# Orthanc serves many modalities at once; pynetdicom's default is 10.
MAXIMUM_ASSOCIATIONS = 64


class DicomServer:
    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.server: ThreadedAssociationServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    async def start(self) -> None:
        settings = self.context.settings
        loop = asyncio.get_running_loop()
        registry = registry_for(self.context)
        policy = AssociationPolicy(settings, registry, loop)
        handlers = DicomHandlers(self.context, registry, policy, loop)
        ae = AE(ae_title=settings.dicom_aet)
        timeout = settings.dicom_scp_timeout or None
        ae.acse_timeout = timeout or 30
        ae.dimse_timeout = timeout
        ae.network_timeout = timeout
        ae.maximum_pdu_size = settings.maximum_pdu_length
        ae.maximum_associations = MAXIMUM_ASSOCIATIONS
        # The contexts actually accepted are chosen per association (policy.py); pynetdicom only
        # needs one to start.
        ae.add_supported_context(VERIFICATION)
        bindings = handlers.bindings()
        if settings.tcp_no_delay:
            bindings.append((evt.EVT_CONN_OPEN, _set_no_delay))
        self.server = await asyncio.to_thread(
            ae.start_server,
            ("0.0.0.0", settings.dicom_port),
            block=False,
            evt_handlers=bindings,  # type: ignore[arg-type]
        )
        logger.warning("DICOM server listening with AET %s on port %d", settings.dicom_aet, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await asyncio.to_thread(server.shutdown)


def _set_no_delay(event: evt.Event) -> None:
    """TcpNoDelay: send each PDU at once instead of waiting to fill a TCP segment."""
    sock = event.assoc.dul.socket
    if sock is not None and sock.socket is not None:
        sock.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def start(context: ServerContext) -> DicomServer | None:
    """Start the DICOM server unless ``DicomServerEnabled`` is false."""
    if not context.settings.dicom_server_enabled:
        return None
    server = DicomServer(context)
    await server.start()
    return server


async def stop(server: DicomServer | None) -> None:
    if server is not None:
        await server.stop()


async def serve_alone(settings: Settings) -> None:
    """The dedicated DICOM worker process (``HttpProcesses`` > 1): its own context and event
    loop, serving DICOM only, until SIGTERM or SIGINT."""
    import signal

    from ..app import build_context

    context = build_context(settings)
    await context.start(recover=False)  # the supervisor recovered before forking
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_requested.set)
    server = await start(context)
    try:
        await stop_requested.wait()
    finally:
        await stop(server)
        await context.stop()
