"""Orthanc's HTTP security defaults: loopback only unless RemoteAccessAllowed; HTTP Basic on every route."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from orthanc_py.app import create_app
from orthanc_py.config import settings_from_json


def client_for(tmp_path: Path, config: dict[str, Any], host: str) -> TestClient:
    app = create_app(settings_from_json({"StorageDirectory": str(tmp_path), **config}))
    return TestClient(app, base_url="http://server", client=(host, 40000))


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "127.5.6.7"])
def test_loopback_clients_are_served_by_default(tmp_path: Path, host: str) -> None:
    with client_for(tmp_path, {}, host) as client:
        assert client.get("/system").status_code == 200


@pytest.mark.parametrize("path", ["/system", "/patients", "/tools/find", "/nonexistent"])
def test_remote_clients_are_refused_by_default(tmp_path: Path, path: str) -> None:
    with client_for(tmp_path, {}, "192.0.2.10") as client:
        response = client.get(path)
        assert response.status_code == 403
        assert response.content == b""


def test_remote_access_requires_credentials_when_allowed(tmp_path: Path) -> None:
    # Like Orthanc >= 1.5.8, AuthenticationEnabled defaults to true once remote access is allowed.
    config = {"RemoteAccessAllowed": True, "RegisteredUsers": {"alice": "secret"}}
    with client_for(tmp_path, config, "192.0.2.10") as client:
        refused = client.get("/patients")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="Orthanc Secure Area"'
        assert client.get("/patients", headers=basic("alice", "wrong")).status_code == 401
        assert client.get("/patients", headers=basic("bob", "secret")).status_code == 401
        assert client.get("/patients", headers=basic("alice", "secret")).json() == []


def test_every_route_is_behind_authentication(tmp_path: Path) -> None:
    config = {"AuthenticationEnabled": True, "RegisteredUsers": {"alice": "secret"}}
    with client_for(tmp_path, config, "127.0.0.1") as client:
        for method, path in [
            ("GET", "/system"),
            ("POST", "/instances"),
            ("DELETE", "/changes"),
            ("POST", "/tools/find"),
            ("GET", "/app/explorer.html"),
            ("GET", "/"),
        ]:
            assert client.request(method, path).status_code == 401, (method, path)


def test_uploader_name_is_recorded(tmp_path: Path) -> None:
    from tests.integration.test_store_atomicity import make_instance

    config = {"AuthenticationEnabled": True, "RegisteredUsers": {"alice": "secret"}}
    with client_for(tmp_path, config, "127.0.0.1") as client:
        alice = basic("alice", "secret")
        answer = client.post("/instances", content=make_instance(), headers=alice).json()
        metadata = client.get(f"/instances/{answer['ID']}/metadata?expand", headers=alice).json()
        assert metadata["HttpUsername"] == "alice"
        assert metadata["Origin"] == "RestApi"
        assert metadata["RemoteIP"] == "127.0.0.1"


def test_errors_are_not_described_when_told_so(tmp_path: Path) -> None:
    with client_for(tmp_path, {"HttpDescribeErrors": False}, "127.0.0.1") as client:
        response = client.get("/patients/unknown/studies")
        assert response.status_code == 404
        assert response.content == b""
    with client_for(tmp_path, {}, "127.0.0.1") as client:
        assert client.get("/patients/unknown/studies").json()["OrthancStatus"] == 17


def test_find_results_are_capped_by_configuration(tmp_path: Path) -> None:
    from tests.integration.test_store_atomicity import make_instance

    config = {"LimitFindResults": 2, "LimitFindInstances": 3}
    with client_for(tmp_path, config, "127.0.0.1") as client:
        for i in range(5):
            assert client.post("/instances", content=make_instance(f"P{i}")).status_code == 200
        assert len(client.post("/tools/find", json={"Level": "Patient", "Query": {}}).json()) == 2
        assert len(client.post("/tools/find", json={"Level": "Patient", "Query": {}, "Limit": 1}).json()) == 1
        assert len(client.post("/tools/find", json={"Level": "Instance", "Query": {}}).json()) == 3
        assert len(client.get("/patients").json()) == 5  # lists are not capped


def test_md5_can_be_left_out(tmp_path: Path) -> None:
    from tests.integration.test_store_atomicity import make_instance

    with client_for(tmp_path, {"StoreMD5ForAttachments": False}, "127.0.0.1") as client:
        instance = client.post("/instances", content=make_instance()).json()["ID"]
        info = client.get(f"/instances/{instance}/attachments/dicom/info").json()
        assert info["UncompressedMD5"] == "" and info["CompressedMD5"] == ""
