"""The DICOM peer of the DICOM scenarios and the harness pieces around it: configuration ports,
references to earlier answers, the peer's key matching and its C-FIND answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

from .dicom_peer import PEER_AET, PEER_PORT_PLACEHOLDER, DicomPeer, _matches, uses_peer, with_ports
from .model import resolve_path

TEXT = st.text(alphabet=st.characters(codec="ascii", exclude_characters="*?\\-"), max_size=12)


def test_ports_replace_the_placeholder() -> None:
    config = {
        "DicomPort": 4242,
        "DicomModalities": {
            "peer": [PEER_AET, "127.0.0.1", PEER_PORT_PLACEHOLDER],
            "object": {"AET": "X", "Host": "h", "Port": PEER_PORT_PLACEHOLDER},
            "other": ["OTHER", "127.0.0.1", 104],
        },
    }
    assert uses_peer(config) and not uses_peer({"DicomModalities": {"a": ["A", "h", 1]}})
    runtime = with_ports(config, {"peer": 1111, "server": 2222})
    assert runtime["DicomPort"] == 2222
    assert runtime["DicomModalities"]["peer"] == [PEER_AET, "127.0.0.1", 1111]
    assert runtime["DicomModalities"]["object"]["Port"] == 1111
    assert runtime["DicomModalities"]["other"] == ["OTHER", "127.0.0.1", 104]
    assert config["DicomModalities"]["peer"][2] == PEER_PORT_PLACEHOLDER  # the recorded one is kept


def test_paths_name_fields_of_earlier_answers() -> None:
    answers = [b'{"ID": "abc", "Path": "/queries/abc"}', b'{"ID": "def"}']
    assert resolve_path("/queries/{step0.ID}/answers/{step1.ID}", answers) == "/queries/abc/answers/def"
    assert resolve_path("/system", answers) == "/system"


@given(TEXT, TEXT)
def test_matching_of_one_key(value: str, other: str) -> None:
    assert _matches(value, value, "LO") and _matches(value, "", "LO") and _matches(value, "*", "PN")
    assert _matches(value, other, "LO") == (other == "" or value == other)  # empty: universal
    assert _matches(value, value + "*", "LO") and _matches(value, "?" * len(value), "LO")
    assert _matches("20100315", "2010-2011", "DA") and not _matches("20100315", "2011-", "DA")


def test_the_peer_answers_a_study_find() -> None:
    peer = DicomPeer()
    peer.start()
    try:
        ae = AE(ae_title="TESTSCU")
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        assoc = ae.associate("127.0.0.1", peer.port, ae_title=PEER_AET)
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.PatientID = "PAT001"
        query.StudyInstanceUID = ""
        query.NumberOfStudyRelatedInstances = ""
        answers = [
            found
            for status, found in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)
            if found
        ]
        assoc.release()
    finally:
        peer.stop()
    counts = sorted((str(a.StudyInstanceUID), str(a.NumberOfStudyRelatedInstances)) for a in answers)
    assert counts == [("1.2.826.0.1.3680043.10.1.2.1.1", "4"), ("1.2.826.0.1.3680043.10.1.2.1.2", "2")]
