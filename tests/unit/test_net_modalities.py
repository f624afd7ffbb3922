"""Parsing DicomModalities entries as Orthanc's RemoteModalityParameters does, and the JSON it answers."""

from __future__ import annotations

import pytest

from orthanc_py.core.errors import ErrorCode, OrthancError
from orthanc_py.net.modalities import RemoteModality, same_aet

# What Orthanc 1.12.7 answers at /modalities/a/configuration for ["AA", "127.0.0.1", 104].
ORTHANC_DEFAULT = {
    "AET": "AA",
    "AllowEcho": True,
    "AllowEventReport": True,
    "AllowFind": True,
    "AllowFindWorklist": True,
    "AllowGet": True,
    "AllowMove": True,
    "AllowNAction": True,
    "AllowStore": True,
    "AllowTranscoding": True,
    "Host": "127.0.0.1",
    "LocalAet": "",
    "Manufacturer": "Generic",
    "Port": 104,
    "RetrieveMethod": "SystemDefault",
    "Timeout": 0,
    "UseDicomTls": False,
}


def test_array_form() -> None:
    assert RemoteModality.from_json("a", ["AA", "127.0.0.1", 104]).to_json() == ORTHANC_DEFAULT
    assert RemoteModality.from_json("b", ["BB", "h", "105", "GE"]).to_json()["Manufacturer"] == "GE"


def test_object_form() -> None:
    modality = RemoteModality.from_json(
        "c", {"AET": "CC", "Host": "x", "Port": 106, "AllowEcho": False, "AllowStorageCommitment": False,
              "RetrieveMethod": "C-GET", "LocalAet": "ME", "Timeout": 5}
    )  # fmt: skip
    shown = modality.to_json()
    assert (
        shown["AllowEcho"] is False and shown["AllowNAction"] is False and shown["AllowEventReport"] is False
    )
    assert (shown["RetrieveMethod"], shown["LocalAet"], shown["Timeout"]) == ("C-GET", "ME", 5)
    assert not modality.is_request_allowed("Echo") and modality.is_request_allowed("Store")


@pytest.mark.parametrize(
    ("value", "code", "details"),
    [
        ({"AET": "D", "Host": "h", "Port": 70000}, ErrorCode.ParameterOutOfRange,
         "A TCP port number must be in range [1..65534], but found: 70000"),
        (["D", "h", 1, "Foo"], ErrorCode.ParameterOutOfRange, 'Unknown modality manufacturer: "Foo"'),
        ({"AET": "D", "Host": "h", "Port": 1, "RetrieveMethod": "X"}, ErrorCode.ParameterOutOfRange,
         'RetrieveMethod can be "C-MOVE", "C-GET" or "SystemDefault": X'),
        ({"AET": "D", "Port": 1}, ErrorCode.BadFileFormat, "String value expected in field: Host"),
        (["D", "h"], ErrorCode.BadFileFormat, None),
        ("D", ErrorCode.BadFileFormat, None),
    ],
)  # fmt: skip
def test_errors_as_orthanc(value: object, code: ErrorCode, details: str | None) -> None:
    with pytest.raises(OrthancError) as raised:
        RemoteModality.from_json("e", value)
    assert raised.value.code == code
    if details is not None:
        assert raised.value.details == details


def test_aet_comparison() -> None:
    assert same_aet("orthanc", "ORTHANC", strict=False)
    assert not same_aet("orthanc", "ORTHANC", strict=True)
