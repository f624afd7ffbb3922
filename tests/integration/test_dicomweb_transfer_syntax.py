"""WADO-RS transfer syntax negotiation, driven by ``dicomweb-client``: frames and instances of files
stored compressed (RLE Lossless, JPEG 2000 Lossless, made with pydicom's encoders) go out as stored,
or decoded to raw little endian, and what the server cannot produce is refused with 406.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import JPEG2000Lossless, RLELossless

from orthanc_py.dicomweb.multipart import parse_media_type, parse_multipart

from .test_dicomweb import Server, make_instance, running_server

STUDY = "1.2.826.0.1.3680043.99.40"
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
PIXELS = (np.arange(3 * 64 * 64, dtype=np.uint16) % 4000 + 100).reshape(3, 64, 64)


def compressed(series: int, syntax: str) -> Dataset:
    ds = make_instance(STUDY, series, 1, frames=3)
    ds.Rows, ds.Columns = PIXELS.shape[1:]  # OpenJPEG does not encode images as small as 16 x 16
    ds.PixelData = PIXELS.tobytes()
    ds.compress(syntax, generate_instance_uid=False)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("dicomweb-syntax")) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> DICOMwebClient:
    dicomweb = DICOMwebClient(url=f"{server.url}/dicom-web")
    dicomweb.store_instances([compressed(1, RLELossless), compressed(2, JPEG2000Lossless)])
    return dicomweb


def uids(series: int) -> tuple[str, str, str]:
    return STUDY, f"{STUDY}.{series}", f"{STUDY}.{series}.1"


def parts(answer: httpx.Response) -> list[bytes]:
    assert answer.status_code == 200
    boundary = parse_media_type(answer.headers["content-type"])[1]["boundary"]
    return [part.data for part in parse_multipart(answer.content, boundary)]


def instance_url(server: Server, series: int) -> str:
    return f"{server.url}/dicom-web/studies/{STUDY}/series/{STUDY}.{series}/instances/{STUDY}.{series}.1"


def test_frames_decoded_to_little_endian(server: Server, client: DICOMwebClient) -> None:
    for series in (1, 2):
        frames = client.retrieve_instance_frames(
            *uids(series), frame_numbers=[3, 1], media_types=(("application/octet-stream", EXPLICIT),)
        )
        assert frames == [PIXELS[2].tobytes(), PIXELS[0].tobytes()]
        # dicomweb-client only asks for Explicit VR Little Endian; the plugin also sends Implicit
        accept = f'multipart/related; type="application/octet-stream"; transfer-syntax={IMPLICIT}'
        answer = httpx.get(f"{instance_url(server, series)}/frames/2", headers={"Accept": accept})
        assert parts(answer) == [PIXELS[1].tobytes()]
    # without a transfer syntax: raw too
    assert client.retrieve_instance_frames(*uids(1), frame_numbers=[2]) == [PIXELS[1].tobytes()]


def test_frames_as_stored(server: Server, client: DICOMwebClient) -> None:
    for series, syntax, media in ((1, RLELossless, "image/dicom-rle"), (2, JPEG2000Lossless, "image/jp2")):
        stored = compressed(series, syntax)
        expected = list(generate_frames(stored.PixelData, number_of_frames=3))
        for accept in (
            (media, syntax),
            ("application/octet-stream", "*"),
        ):
            frames = client.retrieve_instance_frames(*uids(series), frame_numbers=[2], media_types=(accept,))
            assert frames == [expected[1]]
        url = instance_url(server, series)
        answer = httpx.get(f"{url}/frames/1", headers={"Accept": f'multipart/related; type="{media}"'})
        assert answer.status_code == 200
        assert (
            parse_media_type(answer.headers["content-type"])[1]["type"]
            == f"{media}; transfer-syntax={syntax}"
        )


def test_frames_not_acceptable(server: Server, client: DICOMwebClient) -> None:
    url = f"{server.url}/dicom-web/studies/{STUDY}/series/{STUDY}.1/instances/{STUDY}.1.1/frames/1"

    def status(accept: str) -> int:
        return httpx.get(url, headers={"Accept": accept}).status_code

    assert (
        status(f'multipart/related; type="application/octet-stream"; transfer-syntax={JPEG2000Lossless}')
        == 406
    )
    assert status('multipart/related; type="image/jpeg"') == 406
    assert status('multipart/related; type="application/octet-stream"; transfer-syntax=1.2.3') == 400


def test_instances(server: Server, client: DICOMwebClient) -> None:
    for series, syntax in ((1, RLELossless), (2, JPEG2000Lossless)):
        stored = client.retrieve_instance(*uids(series), media_types=(("application/dicom", "*"),))
        assert stored.file_meta.TransferSyntaxUID == syntax
        same = client.retrieve_instance(*uids(series), media_types=(("application/dicom", syntax),))
        assert same.file_meta.TransferSyntaxUID == syntax
        decoded = client.retrieve_instance(*uids(series), media_types=(("application/dicom", EXPLICIT),))
        assert decoded.file_meta.TransferSyntaxUID == EXPLICIT
        assert np.array_equal(decoded.pixel_array, PIXELS)
        accept = f'multipart/related; type="application/dicom"; transfer-syntax={IMPLICIT}'
        (part,) = parts(httpx.get(instance_url(server, series), headers={"Accept": accept}))
        implicit = pydicom.dcmread(io.BytesIO(part))
        assert implicit.file_meta.TransferSyntaxUID == IMPLICIT
        assert np.array_equal(implicit.pixel_array, PIXELS)
    url = f"{server.url}/dicom-web/studies/{STUDY}"
    other = httpx.get(
        url, headers={"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={RLELossless}'}
    )
    assert other.status_code == 406  # the JPEG 2000 instance of the study would need an encoder
    series = httpx.get(
        f"{url}/series/{STUDY}.1",
        headers={"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={RLELossless}'},
    )
    (part,) = parts(series)
    assert pydicom.dcmread(io.BytesIO(part)).file_meta.TransferSyntaxUID == RLELossless
    bad = httpx.get(
        url, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=1.2'}
    )
    assert bad.status_code == 400
