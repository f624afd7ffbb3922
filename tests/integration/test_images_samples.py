"""The pixels orthanc_py decodes from real-world files, compared with the real Orthanc 1.12's.

Why: users read images through ``/preview``, ``/rendered`` and ``/image-uint16``; viewers and
scripts depend on exactly the same values. ``python -m compat_tests.record_images`` recorded, for
the first and last frame of every sample of ``../shared/dicom-samples`` (and of the generated files
of ``fixtures/images/``), what Orthanc 1.12 with its GDCM plugin answered: the HTTP status and, for
images, the decoded pixels' shape and SHA-256. Each case here runs the same file through
orthanc_py's image pipeline (the very function behind the routes, PNG encoding included) and
expects the same status and the same pixels.

Known differences are in ``XFAIL`` (strict: a fixed case fails as XPASS until its line goes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compat_tests.record_images import REFERENCE_PATH, image_sources, png_pixels, summary

if not REFERENCE_PATH.is_file():
    pytest.skip(
        f"no reference: {REFERENCE_PATH} (python -m compat_tests.record_images)", allow_module_level=True
    )

REFERENCE: dict[str, dict[str, Any]] = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))["files"]
SOURCES: dict[str, Path] = image_sources()

# Causes of known differences, one line each.
BETTER_DECODER = "orthanc_py decodes a file that Orthanc's DCMTK and GDCM decoders refuse (415)"
LOSSY_ROUNDING = "lossy codec: libjpeg/OpenJPEG builds round a few pixels differently from DCMTK/GDCM"

PLUGIN_WINDOWING = (
    "Orthanc renders with the full Bits Stored range and no rescale, not the file's windowing, "
    "when its GDCM plugin decoded the frame"
)


def _all_kinds(name: str, reason: str, frames: tuple[int, ...] = (0,)) -> dict[str, str]:
    kinds = ("image-uint16", "image-uint8", "preview", "rendered")
    return {f"{name}#{frame}/{kind}": reason for frame in frames for kind in kinds}


def _color(name: str, reason: str, frames: tuple[int, ...] = (0,)) -> dict[str, str]:
    return {f"{name}#{frame}/{kind}": reason for frame in frames for kind in ("preview", "rendered")}


XFAIL: dict[str, str] = {
    **_all_kinds("2020-09-12-ELSCINT1-PMSCT_RLE1.dcm", BETTER_DECODER),
    **_all_kinds("TransferSyntaxes/1.2.840.10008.1.2.4.51.dcm", BETTER_DECODER),
    "2021-02-19-MalaterreCP246.dcm#0/rendered": PLUGIN_WINDOWING,
    "2022-03-08-RicSmi.dcm#0/rendered": PLUGIN_WINDOWING,
    **_color("Issue16.dcm", LOSSY_ROUNDING, (0, 33)),
    **_color("Issue164.dcm", LOSSY_ROUNDING, (0, 86)),
    **_color("TransferSyntaxes/1.2.840.10008.1.2.4.50.dcm", LOSSY_ROUNDING),
}


def _cases() -> list[Any]:
    cases = []
    for name, record in sorted(REFERENCE.items()):
        if name not in SOURCES or "images" not in record:
            continue
        for key in sorted(record["images"]):
            case_id = f"{name}#{key}"
            marks = [pytest.mark.xfail(reason=XFAIL[case_id], strict=True)] if case_id in XFAIL else []
            cases.append(pytest.param(name, key, id=case_id, marks=marks))
    return cases


_DATA_CACHE: dict[str, bytes] = {}


def observe(name: str, frame: int, kind: str) -> dict[str, Any]:
    """What orthanc_py answers for this frame and route: the status, and the pixels' summary."""
    from orthanc_py.rest.images import NoImage, UnsupportedImage, image_answer

    data = _DATA_CACHE.get(name)
    if data is None:
        data = _DATA_CACHE[name] = SOURCES[name].read_bytes()
    try:
        content, _ = image_answer(data, frame, kind, "image/png", {})
    except UnsupportedImage:
        return {"status": 415}
    except NoImage:
        return {"status": 404}
    return {"status": 200, **summary(png_pixels(content, kind))}


@pytest.mark.parametrize(("name", "key"), _cases())
def test_same_pixels_as_orthanc(name: str, key: str) -> None:
    expected = REFERENCE[name]["images"][key]
    frame, kind = key.split("/", 1)
    actual = observe(name, int(frame), kind)
    assert actual["status"] == expected["status"], (expected, actual)
    if expected["status"] == 200:
        assert actual["shape"] == expected["shape"]
        for stat in ("min", "max", "mean"):
            assert actual[stat] == expected[stat], f"{stat}: {actual[stat]} vs Orthanc's {expected[stat]}"
        assert actual["sha256"] == expected["sha256"]


def test_reference_matches_files() -> None:
    """The recording was made from these very files."""
    import hashlib

    changed = [
        name
        for name, record in REFERENCE.items()
        if name in SOURCES and hashlib.sha1(SOURCES[name].read_bytes()).hexdigest() != record["sha1"]
    ]
    assert not changed, f"re-record with python -m compat_tests.record_images --only {' '.join(changed)}"
