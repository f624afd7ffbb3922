"""The image routes of an instance, over HTTP, on images made with pydicom (every layout Orthanc decodes).

What is checked is what a client sees: the media type, the pixels decoded from the PNG/JPEG, numpy
and Matlab answers, raw frames, and Orthanc 1.12's answers when an image cannot be served (an empty
415 or 404, a 307 with ``returnUnsupportedImage``).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset

from compat_tests import image_factory


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from orthanc_py.app import create_app
    from orthanc_py.config import settings_from_json

    tmp: Path = tmp_path_factory.mktemp("images")
    settings = settings_from_json(
        {
            "StorageDirectory": str(tmp / "storage"),
            "IndexDirectory": str(tmp / "index"),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
        }
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.fixture(scope="module")
def ids(client: Any) -> dict[str, str]:
    """Every generated image, uploaded once: name → instance ID."""
    result = {}
    for name in image_factory.GENERATORS:
        response = client.post("/instances", content=image_factory.make(name))
        assert response.status_code == 200, response.text
        result[name] = response.json()["ID"]
    return result


def png(response: Any) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_preview_stretches_grayscale_to_8_bits(client: Any, ids: dict[str, str]) -> None:
    pixels = png(client.get(f"/instances/{ids['multiframe16']}/preview"))
    assert pixels.shape == (12, 16) and pixels.dtype == np.uint8
    assert pixels.min() == 0 and pixels.max() == 255
    # Frame 2 of the 0..60000 ramp has its own min and max: stretched again.
    last = png(client.get(f"/instances/{ids['multiframe16']}/frames/2/preview"))
    assert last.min() == 0 and last.max() == 255


def test_preview_inverts_monochrome1(client: Any, ids: dict[str, str]) -> None:
    pixels = png(client.get(f"/instances/{ids['monochrome1']}/preview"))
    assert pixels[0, 0] == 255 and pixels[-1, -1] == 0


def test_preview_of_color_is_the_rgb_image(client: Any, ids: dict[str, str]) -> None:
    expected = image_factory._rgb()
    for name in ("rgb", "rgb-planar", "rle-rgb"):
        assert np.array_equal(png(client.get(f"/instances/{ids[name]}/preview")), expected), name
    # YBR_FULL goes through Orthanc's float conversion: within one unit of the source RGB.
    ybr = png(client.get(f"/instances/{ids['ybr-full']}/preview")).astype(int)
    assert np.abs(ybr - expected.astype(int)).max() <= 2


def test_palette_is_applied(client: Any, ids: dict[str, str]) -> None:
    pixels = png(client.get(f"/instances/{ids['palette8']}/preview"))
    assert pixels.shape == (12, 16, 3)
    assert tuple(pixels[0, 0]) == (0, 255, 0)
    assert tuple(pixels[-1, -1]) == (255, 0, (255 * 7) % 256)


def test_uint16_int16_uint8_clamp_as_orthanc(client: Any, ids: dict[str, str]) -> None:
    stored = image_factory._ramp(-2000, 3000)
    uint16 = png(client.get(f"/instances/{ids['signed16-ct']}/image-uint16")).astype(np.int64)
    assert np.array_equal(uint16, np.clip(stored, 0, 65535))
    int16 = png(client.get(f"/instances/{ids['signed16-ct']}/image-int16"))
    assert np.array_equal(int16.astype(np.uint16).view(np.int16), stored)
    uint8 = png(client.get(f"/instances/{ids['signed16-ct']}/image-uint8"))
    assert np.array_equal(uint8, np.clip(stored, 0, 255))


def test_bits_stored_and_sign(client: Any, ids: dict[str, str]) -> None:
    int16 = png(client.get(f"/instances/{ids['signed12-in16']}/image-int16")).astype(np.uint16).view(np.int16)
    assert np.array_equal(int16, image_factory._ramp(-2048, 2047))


def test_transfer_syntaxes_decode_to_the_same_pixels(client: Any, ids: dict[str, str]) -> None:
    big = png(client.get(f"/instances/{ids['big-endian16']}/image-uint16"))
    assert np.array_equal(big, image_factory._ramp(0, 40000))
    deflated = png(client.get(f"/instances/{ids['deflated16']}/image-uint16"))
    assert np.array_equal(deflated, image_factory._ramp(100, 900))
    rle = png(client.get(f"/instances/{ids['rle16']}/frames/1/image-uint16"))
    assert np.array_equal(rle, image_factory._ramp(0, 50000, 2)[1])


def test_rendered_applies_windowing_and_resizes(client: Any, ids: dict[str, str]) -> None:
    instance = ids["signed16-ct"]
    # Window 40/400 on HU = stored - 1024: stored <= 864 is black, >= 1264 is white.
    pixels = png(client.get(f"/instances/{instance}/rendered"))
    stored = image_factory._ramp(-2000, 3000)
    assert (pixels[stored <= 864] == 0).all() and (pixels[stored >= 1264] == 255).all()
    wide = png(client.get(f"/instances/{instance}/rendered?window-center=0&window-width=100000"))
    assert 0 < wide.min() < wide.max() < 255
    resized = png(client.get(f"/instances/{instance}/rendered?width=8"))
    assert resized.shape == (6, 8)
    both = png(client.get(f"/instances/{instance}/rendered?width=32&height=12"))
    assert both.shape == (12, 16)


def test_jpeg_by_accept_and_quality(client: Any, ids: dict[str, str]) -> None:
    response = client.get(f"/instances/{ids['gray8']}/preview", headers={"Accept": "image/jpeg"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (16, 12)
    small = client.get(f"/instances/{ids['rgb']}/rendered?quality=5", headers={"Accept": "image/jpeg"})
    large = client.get(f"/instances/{ids['rgb']}/rendered?quality=100", headers={"Accept": "image/jpeg"})
    assert len(small.content) < len(large.content)
    pam = client.get(
        f"/instances/{ids['gray8']}/preview", headers={"Accept": "image/x-portable-arbitrarymap"}
    )
    assert pam.content.startswith(b"P7\nWIDTH 16\nHEIGHT 12\nDEPTH 1\nMAXVAL 255\n")


def test_errors_as_orthanc_answers_them(client: Any, ids: dict[str, str]) -> None:
    color = ids["rgb"]
    assert client.get(f"/instances/{color}/image-uint16").status_code == 415
    assert client.get(f"/instances/{color}/image-uint16").content == b""
    redirect = client.get(f"/instances/{color}/image-uint16?returnUnsupportedImage", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "../../app/images/unsupported.png"
    assert client.get(f"/instances/{ids['gray8']}/frames/1/preview").status_code == 415
    assert client.get(f"/instances/{ids['gray8']}/frames/abc/preview").status_code == 404
    assert client.get("/instances/nope/preview").status_code == 404
    gif = client.get(f"/instances/{ids['gray8']}/preview", headers={"Accept": "image/gif"})
    assert gif.status_code == 404
    bad_quality = client.get(f"/instances/{ids['gray8']}/preview?quality=0", headers={"Accept": "image/jpeg"})
    assert bad_quality.status_code == 415
    assert client.get(f"/instances/{ids['gray32']}/preview").status_code == 415


def test_frames(client: Any, ids: dict[str, str]) -> None:
    assert client.get(f"/instances/{ids['multiframe16']}/frames").json() == [0, 1, 2]
    children = client.get(f"/instances/{ids['multiframe16']}/frames/1").json()
    assert "preview" in children and "raw.gz" in children


def test_raw_frames(client: Any, ids: dict[str, str]) -> None:
    stored = image_factory._ramp(0, 60000, 3)
    raw = client.get(f"/instances/{ids['multiframe16']}/frames/2/raw")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.content == stored[2].astype("<u2").tobytes()
    packed = client.get(f"/instances/{ids['multiframe16']}/frames/2/raw.gz")
    assert gzip.decompress(packed.content) == raw.content
    assert client.get(f"/instances/{ids['multiframe16']}/frames/3/raw").status_code == 400


def test_numpy(client: Any, ids: dict[str, str]) -> None:
    stored = image_factory._ramp(-2000, 3000)
    rescaled = np.load(io.BytesIO(client.get(f"/instances/{ids['signed16-ct']}/numpy").content))
    assert rescaled.shape == (1, 12, 16, 1) and rescaled.dtype == np.float32
    assert np.array_equal(rescaled[0, :, :, 0], (stored - 1024).astype(np.float32))
    raw = np.load(io.BytesIO(client.get(f"/instances/{ids['signed16-ct']}/frames/0/numpy?rescale=0").content))
    assert raw.shape == (12, 16, 1) and raw.dtype == np.int16
    packed = client.get(f"/instances/{ids['multiframe16']}/numpy?compress=true&rescale=false").content
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert archive.namelist() == ["arr_0"]
    volume = np.load(io.BytesIO(packed))["arr_0"]
    assert volume.shape == (3, 12, 16, 1) and np.array_equal(volume[..., 0], image_factory._ramp(0, 60000, 3))
    color = np.load(io.BytesIO(client.get(f"/instances/{ids['rgb']}/numpy").content))
    assert color.shape == (1, 12, 16, 3) and color.dtype == np.uint8


def test_series_numpy(client: Any, ids: dict[str, str]) -> None:
    series = client.get(f"/instances/{ids['multiframe16']}/series").json()["ID"]
    volume = np.load(io.BytesIO(client.get(f"/series/{series}/numpy?rescale=false").content))
    assert volume.shape == (3, 12, 16, 1)


def test_matlab(client: Any, ids: dict[str, str]) -> None:
    text = client.get(f"/instances/{ids['gray8']}/matlab").text
    assert text.startswith("double([ 0 1 3 ") and text.endswith(" ])")
    assert text.count("; ") == 11
    color = client.get(f"/instances/{ids['rgb']}/matlab").text
    assert color.startswith("double(permute(reshape([ 0 0 0 16 0 9 ")
    assert color.endswith("], [ 3 12 16 ]), [ 3 2 1 ]))")


def _pdf_instance() -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1104.8.1"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1104.8.1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1104.8.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1104.8.3"
    ds.PatientID = "PDF"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = b"%PDF-1.4 tiny %%EOF"  # odd length: padded with one NUL in the file
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_pdf(client: Any, ids: dict[str, str]) -> None:
    instance = client.post("/instances", content=_pdf_instance()).json()["ID"]
    response = client.get(f"/instances/{instance}/pdf")
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == b"%PDF-1.4 tiny %%EOF"
    assert client.get(f"/instances/{ids['gray8']}/pdf").status_code == 404


def test_render_api_for_other_front_ends(client: Any, ids: dict[str, str]) -> None:
    from orthanc_py.imaging import render

    context = client.app.state.context

    async def call() -> tuple[bytes, str]:
        return await render(context, ids["signed16-ct"], 0, accept="image/jpeg", viewport=(8, 0))

    body, media_type = client.portal.call(call)
    assert media_type == "image/jpeg" and Image.open(io.BytesIO(body)).size == (8, 6)
