"""What a compatibility scenario is, and how its requests and responses are written to fixtures.

A scenario is a list of HTTP steps run against a fresh server (empty storage) with a given
configuration. The recorder runs it against the real Orthanc and writes
``fixtures/compat/<name>.json``; the replay sends the very same requests to orthanc_py and compares
the answers, ignoring only the fields that the scenario declares volatile (see :class:`Rule`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DICOM_DIR = REPO_ROOT / "fixtures" / "dicom"
COMPAT_DIR = REPO_ROOT / "fixtures" / "compat"

FORMAT_VERSION = 1

# Response headers that are recorded and compared (lower case).
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "content-disposition", "location")

# Placeholders for the per-run folders in a recorded configuration.
STORAGE_PLACEHOLDER = "<tmp>/storage"
INDEX_PLACEHOLDER = "<tmp>/index"

BASE_CONFIG: dict[str, Any] = {
    "Name": "OrthancCompat",
    "HttpPort": 28042,
    "DicomPort": 24242,
    "StorageDirectory": STORAGE_PLACEHOLDER,
    "IndexDirectory": INDEX_PLACEHOLDER,
    "RemoteAccessAllowed": False,
    "AuthenticationEnabled": False,
    "Plugins": [],
}

# Response bodies up to these sizes are stored verbatim in addition to their SHA-1: printable UTF-8
# text (e.g. the conformance statement) and any other bytes (base64).
INLINE_TEXT_LIMIT = 65536
INLINE_BINARY_LIMIT = 4096


# --------------------------------------------------------------------------- comparison rules


@dataclass(frozen=True)
class Rule:
    """A field-level exception to exact comparison.

    ``path`` addresses fields of a JSON body: ``LastUpdate``, ``Changes[*].Date``,
    ``[*].MainDicomTags.InstanceCreationTime``, ``*.Uuid`` (any key), ``[2]`` (one index),
    ``**.LastUpdate`` (at any depth). ``$`` is the whole body, which is also how a text body is
    addressed. ``header:Content-Disposition`` addresses a response header (present in both answers,
    value not compared, or matched against ``pattern``).

    kinds:
    * ``volatile``: the value is not compared, but the field must be present in both answers;
    * ``shape``: the value is not compared, but the value of the answer under test must fully match
      the regular expression ``pattern`` (applied to the text of a scalar);
    * ``unordered``: the list at ``path`` is compared as a multiset;
    * ``deviation``: orthanc_py answers ``value`` (JSON text; ``ABSENT`` for a field it leaves out)
      instead of what Orthanc answers, on purpose — see ``compat_tests/deviations.py``. The path
      ``status`` addresses the HTTP status.
    """

    path: str
    kind: str = "volatile"
    pattern: str | None = None
    value: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.pattern is not None:
            out["pattern"] = self.pattern
        if self.value is not None:
            out["value"] = self.value
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Rule:
        return Rule(data["path"], data.get("kind", "volatile"), data.get("pattern"), data.get("value"))


ABSENT = "<absent>"


def volatile(*paths: str) -> tuple[Rule, ...]:
    return tuple(Rule(p) for p in paths)


def shape(path: str, pattern: str) -> Rule:
    return Rule(path, "shape", pattern)


def unordered(path: str = "$") -> Rule:
    return Rule(path, "unordered")


# --------------------------------------------------------------------------- request bodies


def sha1_hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def dicom_bytes(key: str) -> bytes:
    return (DICOM_DIR / f"{key}.dcm").read_bytes()


def build_zip(keys: list[str]) -> bytes:
    """A byte-for-byte reproducible ZIP (stored, fixed timestamps) of fixture files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in keys:
            info = zipfile.ZipInfo(f"{key}.dcm", date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, dicom_bytes(key))
    return buffer.getvalue()


@dataclass(frozen=True)
class Body:
    """A request body: ``file`` (a fixture DICOM file), ``zip`` (of fixture files), ``json``,
    ``raw`` (bytes)."""

    kind: str
    value: Any

    def encode(self) -> bytes:
        if self.kind == "file":
            return dicom_bytes(self.value)
        if self.kind == "zip":
            return build_zip(list(self.value))
        if self.kind == "json":
            return json.dumps(self.value).encode("utf-8")
        if self.kind == "raw":
            return bytes(self.value)
        raise ValueError(f"unknown body kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        data = self.encode()
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "file":
            out["file"] = f"fixtures/dicom/{self.value}.dcm"
        elif self.kind == "zip":
            out["files"] = [f"fixtures/dicom/{key}.dcm" for key in self.value]
        elif self.kind == "json":
            out["json"] = self.value
        else:
            out.update(_inline_bytes(data, force=True))
        out["sha1"] = sha1_hex(data)
        out["length"] = len(data)
        return out


def request_body_from_json(data: dict[str, Any] | None) -> bytes:
    """The bytes of a recorded request body, checked against the SHA-1 recorded with it."""
    if data is None:
        return b""
    kind = data["kind"]
    if kind == "file":
        content = (REPO_ROOT / data["file"]).read_bytes()
    elif kind == "zip":
        keys = [Path(name).stem for name in data["files"]]
        content = build_zip(keys)
    elif kind == "json":
        content = json.dumps(data["json"]).encode("utf-8")
    elif kind == "raw":
        content = _bytes_from_inline(data)
    else:
        raise ValueError(f"unknown body kind {kind!r}")
    if sha1_hex(content) != data["sha1"]:
        raise RuntimeError(
            f"request body ({kind}) differs from the recorded one (fixtures/dicom changed?): re-record"
        )
    return content


def file_body(key: str) -> Body:
    return Body("file", key)


def zip_body(*keys: str) -> Body:
    return Body("zip", tuple(keys))


def json_body(value: Any) -> Body:
    return Body("json", value)


def raw_body(data: bytes | str) -> Body:
    return Body("raw", data.encode("utf-8") if isinstance(data, str) else data)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Step:
    """One request. ``path`` may name a field of an earlier answer of the same run, as in
    ``/queries/{step0.ID}/answers`` (IDs of queries and jobs are random); with ``wait_job`` the
    path is a job's (or a storage commitment report's), polled until it has finished before the
    answer that is compared."""

    method: str
    path: str
    body: Body | None = None
    headers: dict[str, str] = field(default_factory=dict)
    compare: bool = True
    rules: tuple[Rule, ...] = ()
    note: str = ""
    wait_job: bool = False


STEP_REFERENCE = re.compile(r"\{step(\d+)\.(\w+)\}")
JOB_WAIT_TIMEOUT = 30.0


def resolve_path(path: str, answers: list[bytes]) -> str:
    """``path`` with its ``{stepN.Field}`` replaced by that field of the N-th answer of this run."""

    def field_of(match: re.Match[str]) -> str:
        body = json.loads(answers[int(match.group(1))])
        return str(body[match.group(2)])

    return STEP_REFERENCE.sub(field_of, path)


def send_step(
    client: Any, method: str, path: str, content: bytes | None, headers: dict[str, str] | None, wait_job: bool
) -> Any:
    """Send one request with an httpx-like client; for ``wait_job``, once the job at ``path`` is done."""
    if wait_job:
        deadline = time.monotonic() + JOB_WAIT_TIMEOUT
        while time.monotonic() < deadline:
            answer = json.loads(client.request("GET", path).content)
            state = answer.get("State", answer.get("Status"))  # a job, or a storage commitment
            if state in ("Success", "Failure"):
                break
            time.sleep(0.05)
    return client.request(method, path, content=content, headers=headers)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[Step, ...]
    config: dict[str, Any] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    def full_config(self) -> dict[str, Any]:
        merged = dict(BASE_CONFIG)
        merged.update(self.config)
        return merged


# --------------------------------------------------------------------------- responses


def media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower()


def _inline_bytes(data: bytes, force: bool = False) -> dict[str, Any]:
    if force or len(data) <= INLINE_TEXT_LIMIT:
        try:
            text = data.decode("utf-8")
            if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
                return {"text": text}
        except UnicodeDecodeError:
            pass
    if force or len(data) <= INLINE_BINARY_LIMIT:
        return {"base64": base64.b64encode(data).decode("ascii")}
    return {}


def _bytes_from_inline(data: dict[str, Any]) -> bytes:
    if "text" in data:
        return data["text"].encode("utf-8")
    return base64.b64decode(data["base64"])


def encode_response_body(content_type: str | None, data: bytes) -> dict[str, Any]:
    """How a response body is stored: parsed JSON, or SHA-1 + length (+ the bytes when small).

    A JSON object or array is parsed whatever the Content-Type (Orthanc sends its error bodies as
    text/plain); the Content-Type itself is compared separately.
    """
    if not data:
        return {"kind": "empty"}
    if media_type(content_type) == "application/json" or data.lstrip()[:1] in (b"{", b"["):
        try:
            return {"kind": "json", "json": json.loads(data)}
        except ValueError:
            pass
    out: dict[str, Any] = {"kind": "bytes", "sha1": sha1_hex(data), "length": len(data)}
    out.update(_inline_bytes(data))
    return out


def response_headers(headers: Any) -> dict[str, str]:
    """The compared headers of an httpx-like response, lower-cased names."""
    out = {}
    for name in COMPARED_HEADERS:
        value = headers.get(name)
        if value is not None:
            out[name] = value
    return out


def load_fixture(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def fixture_paths(names: list[str] | None = None) -> list[Path]:
    if names:
        return [COMPAT_DIR / f"{name}.json" for name in names]
    return sorted(COMPAT_DIR.glob("*.json"))


def runtime_config(
    recorded: dict[str, Any], tmp: Path, ports: dict[str, int] | None = None
) -> dict[str, Any]:
    """The recorded configuration with its storage folders placed under ``tmp``, and the ports of
    the DICOM peer and of the server's DICOM port when the scenario talks to the peer
    (``dicom_peer.dicom_peer_for``)."""
    from .dicom_peer import with_ports

    config = with_ports(dict(recorded), ports)
    config["StorageDirectory"] = str(tmp / "storage")
    config["IndexDirectory"] = str(tmp / "index")
    return config
