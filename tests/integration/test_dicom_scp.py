"""The DICOM server against DCMTK's real clients: echoscu, storescu, findscu, movescu, getscu."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from orthanc_py.core.enumerations import MetadataType
from orthanc_py.core.identifiers import ResourceLevel

from .dicom_support import (
    RLE_LOSSLESS,
    SECONDARY_CAPTURE,
    RunningServer,
    dcmtk,
    free_port,
    make_instance,
    write_instances,
)

pytestmark = pytest.mark.dcmtk

STUDY = "1.2.826.0.1.3680043.8.1055.1.1"
SERIES = "1.2.826.0.1.3680043.8.1055.2.1"


def instance_uid(n: int) -> str:
    return f"1.2.826.0.1.3680043.8.1055.3.{n}"


@pytest.fixture(scope="module")
def move_target_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, move_target_port: int) -> Iterator[RunningServer]:
    running = RunningServer(
        tmp_path_factory.mktemp("scp") / "db",
        {
            "DicomModalities": {
                "target": ["TARGET", "127.0.0.1", move_target_port],
                "mod": ["MOD", "127.0.0.1", 104],
            }
        },
    )
    for n in range(3):
        running.store(make_instance(instance=instance_uid(n)))
    running.store(
        make_instance(
            "P2",
            "1.2.826.0.1.3680043.8.1055.1.2",
            "1.2.826.0.1.3680043.8.1055.2.2",
            instance_uid(10),
            patient_name="ROE^JANE",
            modality="MR",
            study_description="BRAIN",
        )
    )
    yield running
    running.close()


def instance_count(server: RunningServer) -> int:
    async def count() -> int:
        async with server.context.index.transaction() as tx:
            return await tx.count_resources(ResourceLevel.INSTANCE)

    return server.run(count())


def echo_ok(result: subprocess.CompletedProcess[str]) -> bool:
    # echoscu exits with 0 even when the association is rejected or aborted
    return result.returncode == 0 and "E:" not in result.stderr and "F:" not in result.stderr


def answers(stderr: str) -> int:
    return stderr.count("Find Response:") - stderr.count("(Success)")


def test_echo(server: RunningServer) -> None:
    assert echo_ok(dcmtk("echoscu", "-aec", server.aet, "127.0.0.1", server.port))


def test_store_records_the_origin(server: RunningServer, tmp_path: Path) -> None:
    uid = instance_uid(99)
    (path,) = write_instances(
        tmp_path, [make_instance("P9", "1.2.9.1", "1.2.9.2", uid, patient_name="NINE^X")]
    )
    result = dcmtk("storescu", "-aet", "MODALITY9", "-aec", server.aet, "127.0.0.1", server.port, path)
    assert result.returncode == 0, result.stderr

    async def metadata() -> dict[int, str]:
        async with server.context.index.transaction() as tx:
            (row,) = await tx.lookup_identifier(ResourceLevel.INSTANCE, 0x00080018, uid)
            return (await tx.get_metadata([row.internal_id], None))[row.internal_id]

    values = server.run(metadata())
    assert values[MetadataType.ORIGIN] == "DicomProtocol"
    assert values[MetadataType.REMOTE_AET] == "MODALITY9"
    assert values[MetadataType.CALLED_AET] == server.aet
    assert values[MetadataType.REMOTE_IP] == "127.0.0.1"
    stored = server.run(server.context.read_dicom(server.run(_public_id(server, uid))))
    assert pydicom.dcmread(io.BytesIO(stored)).SOPInstanceUID == uid


async def _public_id_async(server: RunningServer, uid: str) -> str:
    async with server.context.index.transaction() as tx:
        (row,) = await tx.lookup_identifier(ResourceLevel.INSTANCE, 0x00080018, uid)
        return row.public_id


def _public_id(server: RunningServer, uid: str):  # type: ignore[no-untyped-def]
    return _public_id_async(server, uid)


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        ({}, 1),
        ({"RleTransferSyntaxAccepted": False}, 0),
        ({"AcceptedTransferSyntaxes": ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]}, 0),
        ({"AcceptedTransferSyntaxes": ["1.2.840.10008.1.2.?"]}, 1),
    ],
)
def test_transfer_syntax_policy(tmp_path: Path, configuration: dict[str, object], expected: int) -> None:
    (path,) = write_instances(tmp_path / "in", [make_instance(transfer_syntax=RLE_LOSSLESS)])
    server = RunningServer(tmp_path / "db", configuration)
    try:
        dcmtk("storescu", "-xr", "-aec", server.aet, "127.0.0.1", server.port, path)
        assert instance_count(server) == expected
    finally:
        server.close()


def test_unknown_sop_class_is_refused_unless_accepted(tmp_path: Path) -> None:
    # storescu refuses to send a SOP class it does not know: pynetdicom is the client here.
    from pynetdicom import AE

    unknown = "1.2.826.0.1.3680043.8.1055.99.1"
    dataset = pydicom.dcmread(io.BytesIO(make_instance(sop_class=unknown)))
    for accepted, expected in ((False, 0), (True, 1)):
        server = RunningServer(tmp_path / f"db{accepted}", {"UnknownSopClassAccepted": accepted})
        try:
            client = AE(ae_title="MOD")
            client.add_requested_context(unknown, "1.2.840.10008.1.2.1")
            assoc = client.associate("127.0.0.1", server.port, ae_title=server.aet)
            # Refused, the only context proposed leaves the client nothing to associate with.
            assert assoc.is_established == accepted
            if accepted:
                assert assoc.send_c_store(dataset).Status == 0
                assoc.release()
            assert instance_count(server) == expected
        finally:
            server.close()


def test_echo_refused_for_an_unknown_aet(tmp_path: Path) -> None:
    server = RunningServer(
        tmp_path / "db",
        {"DicomAlwaysAllowEcho": False, "DicomModalities": {"a": ["KNOWN", "127.0.0.1", 104]}},
    )
    try:
        assert not echo_ok(dcmtk("echoscu", "-aet", "STRANGER", "-aec", server.aet, "127.0.0.1", server.port))
        assert echo_ok(dcmtk("echoscu", "-aet", "KNOWN", "-aec", server.aet, "127.0.0.1", server.port))
        # AETs compare case-insensitively unless StrictAetComparison
        assert echo_ok(dcmtk("echoscu", "-aet", "known", "-aec", server.aet, "127.0.0.1", server.port))
    finally:
        server.close()


def test_association_rejected_when_nothing_is_always_allowed(tmp_path: Path) -> None:
    server = RunningServer(
        tmp_path / "db",
        {"DicomAlwaysAllowEcho": False, "DicomAlwaysAllowStore": False, "StrictAetComparison": True},
    )
    try:
        result = dcmtk("echoscu", "-aet", "STRANGER", "-aec", server.aet, "127.0.0.1", server.port)
        assert "Association Rejected" in result.stderr
    finally:
        server.close()


def test_wrong_called_aet(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "db", {"DicomCheckCalledAet": True})
    try:
        assert not echo_ok(dcmtk("echoscu", "-aec", "SOMEONE", "127.0.0.1", server.port))
        assert echo_ok(dcmtk("echoscu", "-aec", server.aet, "127.0.0.1", server.port))
    finally:
        server.close()
    server = RunningServer(tmp_path / "db2", {"DicomCheckCalledAet": False})
    try:
        assert echo_ok(dcmtk("echoscu", "-aec", "SOMEONE", "127.0.0.1", server.port))
    finally:
        server.close()


def test_find_refused_for_an_unknown_aet(server: RunningServer) -> None:
    result = dcmtk(
        "findscu",
        "-aet",
        "STRANGER",
        "-aec",
        server.aet,
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "127.0.0.1",
        server.port,
    )
    assert "Pending" not in result.stderr


@pytest.mark.parametrize(
    ("model", "level", "keys", "expected"),
    [
        ("-P", "PATIENT", ["PatientID", "PatientName=DOE*"], 1),
        ("-P", "STUDY", ["PatientID=P1", "StudyInstanceUID"], 1),
        ("-P", "SERIES", ["PatientID=P1", f"StudyInstanceUID={STUDY}", "SeriesInstanceUID", "Modality"], 1),
        (
            "-P",
            "IMAGE",
            ["PatientID=P1", f"StudyInstanceUID={STUDY}", f"SeriesInstanceUID={SERIES}", "SOPInstanceUID"],
            3,
        ),
        ("-S", "STUDY", ["StudyInstanceUID", "PatientName", "ModalitiesInStudy=MR"], 1),
        ("-S", "STUDY", ["StudyInstanceUID", "StudyDescription", "PatientID=P1\\P2"], 2),
        ("-S", "SERIES", [f"StudyInstanceUID={STUDY}", "SeriesInstanceUID"], 1),
        ("-S", "IMAGE", [f"StudyInstanceUID={STUDY}", f"SeriesInstanceUID={SERIES}", "SOPInstanceUID"], 3),
    ],
)
def test_find(server: RunningServer, model: str, level: str, keys: list[str], expected: int) -> None:
    arguments: list[str] = ["-aet", "MOD", "-aec", server.aet, model, "-k", f"QueryRetrieveLevel={level}"]
    for key in keys:
        arguments += ["-k", key]
    result = dcmtk("findscu", *arguments, "127.0.0.1", str(server.port))
    assert result.returncode == 0, result.stderr
    assert answers(result.stderr) == expected, result.stderr


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("StudyDescription=chest", 0),  # case-sensitive: stored "CHEST"
        ("StudyDescription=CHEST", 1),
        ("StudyDescription=ch*", 0),
        ("AccessionNumber=acc*", 0),
        ("AccessionNumber=ACC*", 1),
        ("PatientName=doe^john", 1),  # PN: CaseSensitivePN is false by default
        ("PatientName=d*", 1),
    ],
)
def test_find_case_sensitive_but_person_names(server: RunningServer, key: str, expected: int) -> None:
    result = dcmtk(
        "findscu", "-aet", "MOD", "-aec", server.aet, "-S",
        "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "PatientID=P1", "-k", key,
        "127.0.0.1", str(server.port),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert answers(result.stderr) == expected, result.stderr


def test_case_sensitive_person_names(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "db", {"CaseSensitivePN": True, "DicomAlwaysAllowFind": True})
    try:
        server.store(make_instance())
        for key, expected in (("PatientName=doe^john", 0), ("PatientName=DOE^JOHN", 1)):
            result = dcmtk(
                "findscu", "-aec", server.aet, "-S",
                "-k", "QueryRetrieveLevel=STUDY", "-k", key, "127.0.0.1", str(server.port),
            )  # fmt: skip
            assert answers(result.stderr) == expected, result.stderr
    finally:
        server.close()


def test_find_returns_the_requested_tags(server: RunningServer) -> None:
    result = dcmtk(
        "findscu", "-aet", "MOD", "-aec", server.aet, "-S",
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY}", "-k", "PatientName",
        "-k", "NumberOfStudyRelatedInstances", "-k", "ModalitiesInStudy",
        "127.0.0.1", str(server.port),
    )  # fmt: skip
    assert "[DOE^JOHN]" in result.stderr
    assert "NumberOfStudyRelatedInstances" in result.stderr and "[3 ]" in result.stderr
    assert "[CT]" in result.stderr


def test_move_to_a_known_modality(server: RunningServer, move_target_port: int, tmp_path: Path) -> None:
    received = tmp_path / "received"
    received.mkdir()
    port = str(server.port)
    target = subprocess.Popen(
        ["/usr/bin/storescp", "-aet", "TARGET", "-od", str(received), str(move_target_port)]
    )
    try:
        _wait_listening(move_target_port)
        result = dcmtk(
            "movescu", "-aet", "MOD", "-aec", server.aet, "-aem", "TARGET", "-S",
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY}", "127.0.0.1", port,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in received.iterdir()) == sorted(f"CT.{instance_uid(n)}" for n in range(3))
        unknown = dcmtk(
            "movescu", "-aet", "MOD", "-aec", server.aet, "-aem", "NOBODY", "-S",
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY}", "127.0.0.1", port,
        )  # fmt: skip
        assert "MoveDestinationUnknown" in unknown.stderr
    finally:
        target.terminate()
        target.wait(timeout=10)


def test_get(server: RunningServer, tmp_path: Path) -> None:
    result = dcmtk(
        "getscu", "-aet", "MOD", "-aec", server.aet, "-P", "-od", str(tmp_path),
        "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=P2", "127.0.0.1", str(server.port),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [f"CT.{instance_uid(10)}"]


def test_secondary_capture_and_implicit_syntax(server: RunningServer, tmp_path: Path) -> None:
    uid = instance_uid(50)
    data = make_instance(
        "P5",
        "1.2.5.1",
        "1.2.5.2",
        uid,
        patient_name="FIVE^X",
        sop_class=SECONDARY_CAPTURE,
        transfer_syntax="1.2.840.10008.1.2",
    )
    (path,) = write_instances(tmp_path, [data])
    result = dcmtk("storescu", "-aec", server.aet, "127.0.0.1", server.port, path)
    assert result.returncode == 0, result.stderr
    public_id = server.run(_public_id(server, uid))
    stored = server.run(server.context.read_dicom(public_id))
    assert stored[128:132] == b"DICM"


def _wait_listening(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def test_large_instances_back_to_back_over_one_association(server: RunningServer, tmp_path: Path) -> None:
    """Each ~1 MB image arrives in some 65 P-DATA-TF PDUs, read in blocks that cut PDUs anywhere;
    every one is stored byte for byte."""
    sent = {}
    files = []
    for n in range(5):
        uid = instance_uid(200 + n)
        ds = pydicom.dcmread(io.BytesIO(make_instance("P5", "1.2.5.1", "1.2.5.2", uid)))
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 512, 1024, 16, 16, 15
        ds.PixelData = bytes((n + i) % 251 for i in range(512 * 1024 * 2))
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
        sent[uid] = ds.PixelData
    paths = write_instances(tmp_path, files)
    result = dcmtk("storescu", "-aec", server.aet, "127.0.0.1", server.port, *paths)
    assert result.returncode == 0 and "E:" not in result.stderr, result.stderr
    for uid, pixels in sent.items():
        stored = server.run(server.context.read_dicom(server.run(_public_id(server, uid))))
        assert pydicom.dcmread(io.BytesIO(stored)).PixelData == pixels
