"""The DICOM server (SCP) on ``DicomPort`` with ``DicomAet``: start and stop.

pynetdicom accepts connections in its own thread and runs each association in another; the
handlers (``handlers.py``) bring every request back to this process's event loop. With
``HttpProcesses`` 1 the server runs in that one process; else in DICOM worker processes of its own
(``server.py``), as many as the HTTP ones, each serving the associations the supervisor hands it
(``dispatch.py``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from pynetdicom import AE, evt
from pynetdicom.transport import ThreadedAssociationServer

from . import reactors
from .dispatch import serve_handed_over
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
    def __init__(self, context: ServerContext, *, channel: socket.socket | None = None) -> None:
        self.context = context
        self.channel = channel  # connections handed over by the supervisor (dispatch.py), if any
        self.server: ThreadedAssociationServer | None = None

    @property
    def port(self) -> int:
        if self.channel is not None:
            return self.context.settings.dicom_port
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
        bindings.append((evt.EVT_CONN_OPEN, _wait_instead_of_polling))
        if settings.tcp_no_delay:
            bindings.append((evt.EVT_CONN_OPEN, _set_no_delay))
        self.server = await asyncio.to_thread(self._listen, ae, settings.dicom_port, bindings)
        # A worker's start is not news: the supervisor logs the DICOM server once for them all.
        logger.log(
            logging.INFO if self.channel else logging.WARNING,
            "DICOM server listening with AET %s on port %d",
            settings.dicom_aet,
            self.port,
        )

    def _listen(self, ae: AE, port: int, bindings: list[tuple[Any, Any]]) -> ThreadedAssociationServer:
        """``AE.start_server(block=False)``; or, in a DICOM worker process, a server that serves
        the connections the supervisor hands over (its own listening socket, on a free loopback
        port, only keeps pynetdicom's server loop as it expects)."""
        address = ("0.0.0.0", port) if self.channel is None else ("127.0.0.1", 0)
        server = ae.make_server(
            address,
            evt_handlers=bindings,  # type: ignore[arg-type]
            server_class=ThreadedAssociationServer,
        )
        threading.Thread(target=server.serve_forever, name="DicomServer", daemon=True).start()
        ae._servers.append(server)  # so that AE.shutdown() stops it, as with start_server
        if self.channel is not None:
            threading.Thread(
                target=serve_handed_over, args=(self.channel, server), name="DicomHandOver", daemon=True
            ).start()
        return server

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await asyncio.to_thread(server.shutdown)


def _wait_instead_of_polling(event: evt.Event) -> None:
    """Event-driven loops and block reads for this association (``reactors.py``)."""
    reactors.install(event.assoc)


def _set_no_delay(event: evt.Event) -> None:
    """TcpNoDelay: send each PDU at once instead of waiting to fill a TCP segment."""
    sock = event.assoc.dul.socket
    if sock is not None and sock.socket is not None:
        sock.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def start(context: ServerContext, *, channel: socket.socket | None = None) -> DicomServer | None:
    """Start the DICOM server unless ``DicomServerEnabled`` is false; with ``channel``, serve the
    connections the supervisor hands over instead of listening (``dispatch.py``)."""
    if not context.settings.dicom_server_enabled:
        return None
    server = DicomServer(context, channel=channel)
    await server.start()
    return server


async def stop(server: DicomServer | None) -> None:
    if server is not None:
        await server.stop()


async def serve_alone(settings: Settings, channel: socket.socket) -> None:
    """A DICOM worker process (``HttpProcesses`` > 1): its own context and event loop, serving
    the associations handed over on ``channel``, until SIGTERM or SIGINT."""
    import signal

    from ..app import build_context, tune_memory

    context = build_context(settings)
    tune_memory()
    await context.start(recover=False)  # the supervisor recovered before forking
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_requested.set)
    server = await start(context, channel=channel)
    try:
        await stop_requested.wait()
    finally:
        await stop(server)
        await context.stop()
