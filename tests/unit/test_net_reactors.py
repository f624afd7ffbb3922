"""The accepted associations' own upper-layer reading (net/reactors.py): PDUs cut anywhere by the
network come out whole, several PDUs in one read come out one by one, and P-DATA-TF items decode
to what pynetdicom's own decoder gives."""

from __future__ import annotations

import socket
import struct
import threading

from hypothesis import given, settings
from hypothesis import strategies as st
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA

from orthanc_py.net.reactors import _PduReader, _presentation_data_values

pdv_values = st.lists(
    st.tuples(st.integers(1, 255).filter(lambda i: i % 2), st.binary(min_size=1, max_size=300)),
    min_size=1,
    max_size=6,
)


def _p_data_tf(values: list[tuple[int, bytes]]) -> bytes:
    primitive = P_DATA()
    primitive.presentation_data_value_list = [[cid, data] for cid, data in values]  # type: ignore[misc]
    pdu = P_DATA_TF()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


@given(pdv_values)
def test_items_decode_as_pynetdicom_decodes_them(values: list[tuple[int, bytes]]) -> None:
    encoded = _p_data_tf(values)
    ours = _presentation_data_values(memoryview(encoded)[6:])
    theirs = P_DATA_TF()
    theirs.decode(encoded)
    assert ours == [list(v) for v in theirs.to_primitive().presentation_data_value_list]
    assert ours == [[cid, data] for cid, data in values]


@given(st.binary(max_size=40))
def test_malformed_items_are_refused_not_raised(body: bytes) -> None:
    values = _presentation_data_values(memoryview(body))
    if values is not None:  # then the items must exactly fill the body
        assert sum(4 + 1 + len(data) for _, data in values) == len(body)


def test_item_overrunning_the_pdu_is_refused() -> None:
    body = struct.pack(">L", 100) + b"\x01\x03" + b"x" * 10
    assert _presentation_data_values(memoryview(body)) is None


def _read_all(reader: _PduReader, count: int) -> list[bytes]:
    pdus: list[bytes] = []
    while len(pdus) < count:
        while reader.complete():
            pdus.append(bytes(reader.take()))
        if len(pdus) < count:
            assert reader.fill(), "the peer closed early"
    return pdus


@settings(max_examples=30, deadline=None)
@given(st.lists(pdv_values, min_size=1, max_size=5), st.integers(1, 700))
def test_pdus_cut_anywhere_come_out_whole(messages: list[list[tuple[int, bytes]]], piece: int) -> None:
    pdus = [_p_data_tf(values) for values in messages]
    stream = b"".join(pdus)
    ours, theirs = socket.socketpair()
    try:
        reader = _PduReader(ours)

        def send() -> None:
            for start in range(0, len(stream), piece):
                theirs.sendall(stream[start : start + piece])

        sender = threading.Thread(target=send)
        sender.start()
        assert _read_all(reader, len(pdus)) == pdus
        sender.join()
        assert not reader.pending()
    finally:
        ours.close()
        theirs.close()


def test_a_pdu_larger_than_the_buffer_is_read_whole() -> None:
    big = _p_data_tf([(1, b"\x00" + bytes(range(256)) * 2000)])  # ~512 KB, twice the buffer
    small = _p_data_tf([(3, b"\x03abc")])
    ours, theirs = socket.socketpair()
    try:
        reader = _PduReader(ours)
        sender = threading.Thread(target=theirs.sendall, args=(small + big + small,))
        sender.start()
        assert _read_all(reader, 3) == [small, big, small]
        sender.join()
    finally:
        ours.close()
        theirs.close()


def test_the_peer_closing_is_seen() -> None:
    ours, theirs = socket.socketpair()
    try:
        reader = _PduReader(ours)
        theirs.sendall(_p_data_tf([(1, b"\x02partial")])[:7])
        theirs.close()
        assert reader.fill()  # the 7 bytes
        assert not reader.complete()
        assert reader.missing() > 0
        assert not reader.fill()  # then the end of the stream
    finally:
        ours.close()
