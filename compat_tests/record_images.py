"""Record the pixels the real Orthanc 1.12 decodes from each sample file.

    python -m compat_tests.record_images              # every file of INDEX.tsv and fixtures/images/*.dcm
    python -m compat_tests.record_images --only P…    # some of them (merged into the existing fixture)

Why: decoding is where two DICOM toolkits differ most (codecs, bits stored, signedness, color
spaces, palettes). One Orthanc 1.12 with its GDCM plugin (as deployed) receives the samples of
``../shared/dicom-samples`` and the generated files of ``fixtures/images/`` one by one; for the first
and the last frame of each accepted file it answers ``/image-uint16``, ``/image-uint8``,
``/preview`` and ``/rendered`` (PNG). Each answer is kept as its HTTP status and, for a 200, the
decoded pixels' shape, SHA-256 and a few statistics (the fixture stays small):

    "DummyCT.dcm": {"sha1": "...", "frames": 1, "images": {
        "0/image-uint16": {"status": 200, "shape": [512, 512], "sha256": "...", "min": 0, "max": 2291},
        "0/preview": {"status": 415}, …}}

``tests/integration/test_images_samples.py`` decodes the same files with orthanc_py and compares.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from .record_samples import SAMPLES_DIR, ReferenceServer, empty_server, sample_paths

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = REPO_ROOT / "fixtures" / "images"
REFERENCE_PATH = IMAGES_DIR / "reference.json"
FORMAT_VERSION = 1
KINDS = ("image-uint16", "image-uint8", "preview", "rendered")
MAX_PIXELS = 64 * 2**20
GDCM_PLUGIN = "/usr/share/orthanc/plugins/libOrthancGdcm.so"


def png_pixels(content: bytes, kind: str) -> np.ndarray:
    """The pixels of a PNG answer, as the canonical array of that route (uint16 for image-uint16)."""
    from PIL import Image

    image = Image.open(io.BytesIO(content))
    if image.width * image.height > MAX_PIXELS:
        # Some samples declare absurd sizes; keep only the shape of what was answered.
        return np.zeros((image.height, image.width, 0), np.uint8)
    array = np.asarray(image)
    if kind == "image-uint16":
        return array.astype(np.uint16)
    if kind == "image-int16":
        return array.astype(np.uint16).view(np.int16)
    return array.astype(np.uint8)


def declared_pixels(data: bytes) -> int:
    import pydicom

    try:
        dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        return int(dataset.get("Rows", 0) or 0) * int(dataset.get("Columns", 0) or 0)
    except Exception:
        return 0


def summary(pixels: np.ndarray) -> dict[str, Any]:
    return {
        "shape": list(pixels.shape),
        # 64 bits of the digest are plenty to tell two images apart, at half the fixture size.
        "sha256": hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:16],
        "min": int(pixels.min()) if pixels.size else 0,
        "max": int(pixels.max()) if pixels.size else 0,
        "mean": round(float(pixels.mean()), 3) if pixels.size else 0.0,
    }


def image_sources() -> dict[str, Path]:
    """Samples (by their path in dicom-samples) and generated files (``fixtures/images/NAME``)."""
    sources = {relative: SAMPLES_DIR / relative for relative in sample_paths()}
    for path in sorted(IMAGES_DIR.glob("*.dcm")):
        sources[f"fixtures/images/{path.name}"] = path
    return sources


def frames_to_check(count: int) -> list[int]:
    return sorted({0, max(count - 1, 0)})


def record_file(client: httpx.Client, path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    record: dict[str, Any] = {"sha1": hashlib.sha1(data).hexdigest()}
    if declared_pixels(data) > MAX_PIXELS:
        # Orthanc spends minutes and gigabytes on these (e.g. 65535 x 65535): not recorded.
        record["skipped"] = "declares too many pixels"
        return record
    response = client.post("/instances", content=data)
    if response.status_code != 200:
        record["upload"] = response.status_code
        return record
    instance = response.json()["ID"]
    count = len(client.get(f"/instances/{instance}/frames").json())
    record["frames"] = count
    images: dict[str, Any] = {}
    for frame in frames_to_check(count):
        for kind in KINDS:
            uri = f"/instances/{instance}/frames/{frame}/{kind}"
            answer = client.get(uri, headers={"Accept": "image/png"})
            entry: dict[str, Any] = {"status": answer.status_code}
            if answer.status_code == 200:
                entry.update(summary(png_pixels(answer.content, kind)))
            images[f"{frame}/{kind}"] = entry
    record["images"] = images
    empty_server(client)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", default=None, help="paths (prefixes) of the files to record")
    args = parser.parse_args(argv)
    sources = image_sources()
    if args.only:
        sources = {k: v for k, v in sources.items() if any(k.startswith(p) for p in args.only)}
    existing: dict[str, Any] = {}
    if REFERENCE_PATH.is_file() and args.only:
        existing = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))["files"]
    tmp = Path(tempfile.mkdtemp(prefix="orthanc-images-", dir="/tmp"))
    server = ReferenceServer(tmp, plugins=[GDCM_PLUGIN])
    client = server.start()
    try:
        for number, (name, path) in enumerate(sources.items(), 1):
            try:
                existing[name] = record_file(client, path)
            except (httpx.TransportError, httpx.HTTPStatusError, RuntimeError) as error:
                # Some samples kill Orthanc: record it, and go on with a fresh one.
                existing[name] = {"sha1": hashlib.sha1(path.read_bytes()).hexdigest(), "crashes": True}
                print(f"{name}: {error!r}", file=sys.stderr)
                server.stop()
                client = server.start()
            print(f"[{number}/{len(sources)}] {name}", file=sys.stderr)
        version = server.version
    finally:
        server.stop()
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT_VERSION, "orthanc": version, "files": dict(sorted(existing.items()))}
    REFERENCE_PATH.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE_PATH.relative_to(REPO_ROOT)} ({len(existing)} files)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
