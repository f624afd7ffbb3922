"""Event-driven loops for the associations the DICOM server accepts, in place of pynetdicom's polling.

pynetdicom polls: its upper-layer (DUL) thread naps a millisecond whenever the socket is quiet and
nothing waits to be sent, and the association thread naps a millisecond between looks at its
message queue. A modality sending instance after instance over one association waits for both
naps at every C-STORE. And every P-DATA-TF PDU (some 30 for a 500 KB image) goes through pynetdicom's
general PDU decoder, two event triggers, two queues and a state-machine step.

Here the DUL thread blocks in ``select()`` on the socket and on a wake-up pipe that ``send_pdu()``
signals, and the association thread blocks on an event the DUL thread sets once it has done
something. While the association is established (state Sta6), the DUL thread decodes P-DATA-TF PDUs
itself and hands their values to the DIMSE provider, which is all pynetdicom's DT-2 action does.
Everything else (negotiation, release, abort, timers) runs pynetdicom's own code. TLS associations
keep pynetdicom's loops: ``select()`` does not see what the TLS layer has already buffered.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import socket
import ssl
import struct
import threading
from functools import partial
from typing import TYPE_CHECKING, Any

from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.utils import make_target

if TYPE_CHECKING:
    from pynetdicom.association import Association
    from pynetdicom.dul import DULServiceProvider

logger = logging.getLogger(__name__)

# The longest a loop blocks without a reason to wake: how late a timer (ARTIM, idle) or a
# ``kill()`` from another thread is noticed.
_LONGEST_WAIT = 0.05
_P_DATA_TF = 0x04
_KNOWN_PDU_TYPES = frozenset(range(0x01, 0x08))
_ESTABLISHED = "Sta6"
_READ_BUFFER_SIZE = 256 * 1024
_SEND_P_DATA = "Evt9"  # a P-DATA primitive to send: nothing the association thread waits for


class _WakeUp:
    """A pipe that makes a ``select()`` on its read end return."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)

    def set(self) -> None:
        try:
            os.write(self.write_fd, b"\0")
        except (BlockingIOError, OSError):
            pass  # full (a wake-up is pending anyway) or closed (the loop has ended)

    def drain(self) -> None:
        try:
            os.read(self.read_fd, 4096)
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def install(assoc: Association) -> None:
    """Replace the two polling loops of an accepted association, before its threads start
    (``EVT_CONN_OPEN``). Leaves a TLS association as it is."""
    dul = assoc.dul
    sock = dul.socket
    if sock is None or sock.socket is None or isinstance(sock.socket, ssl.SSLSocket):
        return
    wake_up = _WakeUp()
    activity = threading.Event()
    send_pdu = dul.send_pdu

    def send_and_wake(primitive: Any) -> None:
        send_pdu(primitive)
        wake_up.set()

    dul.send_pdu = send_and_wake  # type: ignore[method-assign]
    dul._target = make_target(partial(_run_dul, dul, wake_up, activity))  # type: ignore[attr-defined]
    assoc._run_reactor = partial(_run_association, assoc, activity)  # type: ignore[method-assign]


def _run_dul(dul: DULServiceProvider, wake_up: _WakeUp, activity: threading.Event) -> None:
    """pynetdicom's ``DULServiceProvider.run_reactor``, waiting instead of napping."""
    sock = dul.socket
    assert sock is not None and sock.socket is not None
    reader = _PduReader(sock.socket)
    try:
        dul._idle_timer.start()
        dul.assoc._dul_ready.set()
        while not dul._kill_thread:
            if dul.artim_timer.expired:
                dul.event_queue.put("Evt18")
            try:
                if dul._process_recv_primitive():  # something to send
                    pass
                elif dul.state_machine.current_state == "Sta13" and not reader.pending():
                    # Waiting for the peer to close: pynetdicom reads what still comes, then
                    # closes the socket.
                    if dul._is_transport_event():
                        dul._idle_timer.restart()
                elif _receive(dul, reader, activity):
                    dul._idle_timer.restart()
            except Exception as exc:
                _abort_on_error(dul, exc)
                return
            try:
                event = dul.event_queue.get(block=False)
            except queue.Empty:
                if not reader.complete():
                    _wait(dul, reader, wake_up)
                continue
            dul.state_machine.do_action(event)
            if event != _SEND_P_DATA:
                activity.set()
    finally:
        activity.set()
        wake_up.close()


class _PduReader:
    """The peer's PDUs, read through one buffer: each read takes whatever the kernel holds
    (often several PDUs) rather than reading a header, then a body, PDU after PDU: fewer system
    calls, each of which lets go of the GIL and must take it back."""

    def __init__(self, raw: socket.socket) -> None:
        self.raw = raw
        self.buffer = bytearray(_READ_BUFFER_SIZE)
        self.start = 0  # the first byte not handled yet
        self.end = 0  # the end of what has been read
        self.low_water = 1  # the socket's SO_RCVLOWAT

    def pending(self) -> bool:
        return self.end > self.start

    def missing(self) -> int:
        """How many more bytes the next PDU needs (its header, while the header is incomplete)."""
        available = self.end - self.start
        if available < 6:
            return 6 - available
        (length,) = struct.unpack_from(">L", self.buffer, self.start + 2)
        return max(0, 6 + length - available)

    def complete(self) -> bool:
        return self.end - self.start >= 6 and self.missing() == 0

    def take(self) -> memoryview:
        """The next PDU, whole (``complete()`` must be true); valid until the next ``fill()``."""
        (length,) = struct.unpack_from(">L", self.buffer, self.start + 2)
        pdu = memoryview(self.buffer)[self.start : self.start + 6 + length]
        self.start += 6 + length
        if self.start == self.end:
            self.start = self.end = 0
        return pdu

    def discard(self) -> None:
        self.start = self.end = 0

    def readable(self) -> bool:
        """Whether a read would not block; False once the socket is closed (the state machine
        has then been told already)."""
        try:
            fd = self.raw.fileno()
            if fd < 0:
                return False
            ready, _, _ = select.select([fd], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(ready)

    def fill(self) -> bool:
        """Read what the kernel holds, at least one byte; False when the peer has closed."""
        needed = self.missing()
        if self.start and self.end + needed > len(self.buffer):  # move the partial PDU to the front
            remaining = self.end - self.start
            self.buffer[:remaining] = self.buffer[self.start : self.end]
            self.start, self.end = 0, remaining
        if self.end + needed > len(self.buffer):  # a PDU larger than the buffer
            self.buffer.extend(bytes(self.end + needed - len(self.buffer)))
        with memoryview(self.buffer) as view:
            count = self.raw.recv_into(view[self.end :])
        self.end += count
        return count > 0

    def wake_when_complete(self, established: bool) -> None:
        """Have ``select()`` report the socket once the next PDU has wholly arrived (the kernel
        caps the mark to what its buffer holds), not at each segment."""
        low_water = max(1, self.missing()) if established else 1
        if low_water != self.low_water:
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, low_water)
            self.low_water = low_water


def _wait(dul: DULServiceProvider, reader: _PduReader, wake_up: _WakeUp) -> None:
    """Until the peer's next PDU is there, a primitive is queued for sending, or a while passes."""
    try:
        fd = reader.raw.fileno()
        if fd < 0:
            raise ValueError("closed socket")
        reader.wake_when_complete(dul.state_machine.current_state == _ESTABLISHED)
        ready, _, _ = select.select([fd, wake_up.read_fd], [], [], _LONGEST_WAIT)
    except (OSError, ValueError):
        threading.Event().wait(0.001)  # the socket is gone: the loop ends on its own events
        return
    if wake_up.read_fd in ready:
        wake_up.drain()


def _receive(dul: DULServiceProvider, reader: _PduReader, activity: threading.Event) -> bool:
    """Handle the peer's next PDU if it has wholly arrived; False if there is none yet.

    A P-DATA-TF on an established association goes straight to the DIMSE provider; any other
    PDU takes pynetdicom's way (decoded, then an event for the state machine).
    """
    if not reader.complete():
        if not reader.readable():
            return False
        try:
            if not reader.fill():
                reader.discard()
                dul.event_queue.put("Evt17")  # the peer has closed the connection
                return True
        except OSError as error:
            logger.debug("Connection lost: %s", error)
            reader.discard()
            dul.event_queue.put("Evt17")
            return True
        if not reader.complete():
            return True  # part of a PDU: counts as activity for the idle timer
    pdu_type = reader.buffer[reader.start]
    if pdu_type not in _KNOWN_PDU_TYPES:
        logger.error("Unknown PDU type received '0x%02X'", pdu_type)
        reader.discard()
        dul.event_queue.put("Evt19")
        return True
    pdu = reader.take()
    if pdu_type == _P_DATA_TF and dul.state_machine.current_state == _ESTABLISHED and dul.event_queue.empty():
        values = _presentation_data_values(pdu[6:])
        if values is None:
            logger.error("Unable to decode the received P-DATA-TF PDU")
            reader.discard()
            dul.event_queue.put("Evt19")
            return True
        primitive = P_DATA()
        primitive._presentation_data_value_list = values  # checked above; the setter re-checks
        dimse = dul.assoc.dimse
        dimse.receive_primitive(primitive)
        if dimse.message is None:  # a whole message: news for the association thread
            activity.set()
        return True
    try:
        decoded, event = dul._decode_pdu(bytearray(pdu))
    except Exception as exc:
        logger.error("Unable to decode the received PDU data: %s", exc)
        reader.discard()
        dul.event_queue.put("Evt19")
        return True
    dul.event_queue.put(event)
    dul._recv_pdu.put(decoded)
    return True


def _presentation_data_values(body: memoryview) -> list[tuple[int, bytes]] | None:
    """The items of a P-DATA-TF PDU (after its 6-byte header): ``[context ID, control header +
    fragment]`` as pynetdicom's P-DATA primitive holds them; None if the items do not fit."""
    values: list[Any] = []
    offset, end = 0, len(body)
    while offset < end:
        if offset + 6 > end:
            return None
        (item_length,) = struct.unpack_from(">L", body, offset)
        item_end = offset + 4 + item_length
        if item_length < 2 or item_end > end:
            return None
        values.append([body[offset + 4], bytes(body[offset + 5 : item_end])])
        offset = item_end
    return values or None


def _abort_on_error(dul: DULServiceProvider, exc: Exception) -> None:
    """As pynetdicom does: send an A-ABORT around the state machine, and stop both loops."""
    logger.error("Exception in the DICOM upper layer, aborting the association: %s", exc)
    logger.debug("DICOM upper layer error", exc_info=exc)
    abort_pdu = A_ABORT_RQ()
    abort_pdu.source = 0x02
    abort_pdu.reason_diagnostic = 0x00
    if dul.socket is not None:
        dul.socket.send(abort_pdu.encode())
    dul.assoc.is_aborted = True
    dul.assoc.is_established = False
    dul.assoc._kill = True
    dul._kill_thread = True


def _run_association(assoc: Association, activity: threading.Event) -> None:
    """pynetdicom's ``Association._run_reactor`` (acceptor side), waiting for the DUL thread's
    news instead of napping between looks."""
    from pynetdicom import evt

    assoc._is_paused = False
    dimse, acse, dul = assoc.dimse, assoc.acse, assoc.dul
    while not assoc._kill:
        activity.clear()
        if dimse.msg_queue.empty() and dul.to_user_queue.empty():
            activity.wait(_LONGEST_WAIT)
        # Paused while the handlers use send_*() themselves (pynetdicom's checkpoint).
        assoc._is_paused = True
        assoc._reactor_checkpoint.wait()
        assoc._is_paused = False

        context_id, message = dimse.get_msg(block=False)
        if message:
            assoc._serve_request(message, context_id)  # type: ignore[arg-type]

        if assoc.is_established and acse.is_release_requested():
            acse.send_release(is_response=True)
            logger.info("Association Released")
            assoc.is_released = True
            assoc.is_established = False
            evt.trigger(assoc, evt.EVT_RELEASED, {})
            assoc.kill()
            return

        if acse.is_aborted():
            logger.info("Association Aborted%s", " (A-P-ABORT)" if acse.is_aborted("a-p-abort") else "")
            dul.receive_pdu(wait=False)  # so that EVT_ACSE_RECV fires
            assoc.is_aborted = True
            assoc.is_established = False
            evt.trigger(assoc, evt.EVT_ABORTED, {})
            assoc.kill()
            return

        if not dul.is_alive():
            assoc.kill()
            return

        if dul.idle_timer_expired():
            logger.error("Network timeout reached")
            if assoc.network_timeout_response == "A-RELEASE":
                assoc._is_paused = True
                assoc._reactor_checkpoint.wait()
                assoc.release()
                assoc._is_paused = False
            else:
                assoc.abort()
            assoc.kill()
            return
