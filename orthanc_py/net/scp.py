"""The DICOM server (SCP) on ``DicomPort`` with ``DicomAet``: start and stop.

pynetdicom accepts connections in its own thread and runs each association in another; the
handlers (``handlers.py``) bring every request back to this process's event loop. With
``HttpProcesses`` 1 the server runs in that one process; else in DICOM worker processes of its own
(``server.py``), as many as the HTTP ones, sharing the port. Python runs one thread of Python code
at a time per process, and pynetdicom decodes every PDU in Python: several processes are what lets
several associations use several cores, as Orthanc's threads do.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from pynetdicom import AE, evt
from pynetdicom.transport import AssociationSocket, ThreadedAssociationServer

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


class _SharedPortServer(ThreadedAssociationServer):
    """Binds with ``SO_REUSEPORT``: several DICOM worker processes listen on the one port and the
    kernel spreads the associations among them (pynetdicom's own server sets only SO_REUSEADDR)."""

    def server_bind(self) -> None:
        assert self.socket is not None
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class DicomServer:
    def __init__(self, context: ServerContext, *, shared_port: bool = False) -> None:
        self.context = context
        self.shared_port = shared_port
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
        bindings.append((evt.EVT_CONN_OPEN, _read_in_large_blocks))
        if settings.tcp_no_delay:
            bindings.append((evt.EVT_CONN_OPEN, _set_no_delay))
        self.server = await asyncio.to_thread(self._listen, ae, settings.dicom_port, bindings)
        logger.warning("DICOM server listening with AET %s on port %d", settings.dicom_aet, self.port)

    def _listen(self, ae: AE, port: int, bindings: list[tuple[Any, Any]]) -> ThreadedAssociationServer:
        """``AE.start_server(block=False)``, with the server class this process needs."""
        server_class = _SharedPortServer if self.shared_port else ThreadedAssociationServer
        server = ae.make_server(
            ("0.0.0.0", port),
            evt_handlers=bindings,  # type: ignore[arg-type]
            server_class=server_class,
        )
        threading.Thread(target=server.serve_forever, name="DicomServer", daemon=True).start()
        ae._servers.append(server)  # so that AE.shutdown() stops it, as with start_server
        return server

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await asyncio.to_thread(server.shutdown)


class _BlockReadingSocket(AssociationSocket):
    """pynetdicom reads a PDU 4 KiB at a time, each piece appended to a growing buffer: a
    500 KB image costs some 130 system calls and as many copies. This reads straight into one
    buffer of the PDU's size, as much as the kernel has at each call."""

    def recv(self, nr_bytes: int) -> bytearray:
        assert self.socket is not None
        buffer = bytearray(nr_bytes)
        view = memoryview(buffer)
        received = 0
        while received < nr_bytes:
            count = self.socket.recv_into(view[received:], nr_bytes - received)
            if not count:  # the peer closed the connection: what came so far, as pynetdicom does
                del view
                del buffer[received:]
                return buffer
            received += count
        return buffer


def _read_in_large_blocks(event: evt.Event) -> None:
    socket_ = event.assoc.dul.socket
    if type(socket_) is AssociationSocket:  # not a TLS socket, whose reads must stay as they are
        socket_.__class__ = _BlockReadingSocket


def _set_no_delay(event: evt.Event) -> None:
    """TcpNoDelay: send each PDU at once instead of waiting to fill a TCP segment."""
    sock = event.assoc.dul.socket
    if sock is not None and sock.socket is not None:
        sock.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def start(context: ServerContext, *, shared_port: bool = False) -> DicomServer | None:
    """Start the DICOM server unless ``DicomServerEnabled`` is false; ``shared_port`` when other
    processes listen on the same port (``server.py``)."""
    if not context.settings.dicom_server_enabled:
        return None
    server = DicomServer(context, shared_port=shared_port)
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
    server = await start(context, shared_port=True)
    try:
        await stop_requested.wait()
    finally:
        await stop(server)
        await context.stop()
