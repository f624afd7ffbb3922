"""Orthanc peers: /peers routes, OrthancPeerStore jobs and /jobs, between two orthanc_py servers and
with the real Orthanc 1.10.1 in both directions."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .dicom_support import free_port, make_instance
from .real_orthanc import ORTHANC, start_http_server, stop_http_server

pytestmark = pytest.mark.orthanc


class Servers:
    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.clients: dict[str, httpx.Client] = {}
        self.urls: dict[str, str] = {}

    def start(self, name: str, command: list[str], port: int) -> None:
        process, client = start_http_server(command, port, ("alice", "secret"))
        self.processes.append(process)
        self.clients[name] = client
        self.urls[name] = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        for process, client in zip(self.processes, self.clients.values(), strict=True):
            stop_http_server(process, client)


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("peers")
    ports = {name: free_port() for name in ("a", "b", "real")}
    common = {
        "RemoteAccessAllowed": True,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {"alice": "secret"},
    }
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    servers = Servers()
    try:
        real_peer = {
            "Url": url["real"],
            "Username": "alice",
            "Password": "secret",
            "HttpHeaders": {"X-Test": "1"},
        }
        for name, peers in (("a", {"b": [url["b"], "alice", "secret"], "real": real_peer}), ("b", {})):
            config = {
                **common,
                "StorageDirectory": str(folder / name),
                "HttpPort": ports[name],
                "DicomServerEnabled": False,
                "HttpProcesses": 2 if name == "a" else 1,
                "OrthancPeers": peers,
            }
            path = write_config(folder / f"{name}.json", config)
            servers.start(name, [sys.executable, "-m", "orthanc_py", str(path)], ports[name])
        real = {
            **common,
            "Name": "real",
            "StorageDirectory": str(folder / "real"),
            "IndexDirectory": str(folder / "real"),
            "HttpPort": ports["real"],
            "DicomPort": free_port(),
            "Plugins": [],
            "OrthancPeers": {"py": [url["a"], "alice", "secret"]},
        }
        servers.start("real", [str(ORTHANC), str(write_config(folder / "real.json", real))], ports["real"])
        yield servers
    finally:
        servers.close()


def upload(client: httpx.Client, n: int) -> dict[str, Any]:
    data = make_instance(
        f"PEER{n}",
        f"1.2.826.0.1.3680043.8.1055.41.{n}",
        f"1.2.826.0.1.3680043.8.1055.42.{n}",
        f"1.2.826.0.1.3680043.8.1055.43.{n}",
    )
    answer = client.post("/instances", content=data)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def test_peers_are_listed_with_public_configuration(servers: Servers) -> None:
    a = servers.clients["a"]
    assert a.get("/peers").json() == ["b", "real"]
    expanded = a.get("/peers", params={"expand": ""}).json()
    b_url = servers.urls["b"] + "/"
    public = {
        "HttpHeaders": [],
        "Password": None,
        "Pkcs11": False,
        "Timeout": 0,
        "Url": b_url,
        "Username": "alice",
    }
    assert expanded["b"] == public
    assert expanded["real"]["HttpHeaders"] == ["X-Test"]
    assert a.get("/peers/real/configuration").json() == expanded["real"]
    assert a.get("/peers/b").json() == ["configuration", "store", "store-straight", "system"]
    assert a.get("/peers/nope").status_code == 404
    assert a.get("/peers/nope/configuration").status_code == 404


def test_put_and_delete_a_peer(servers: Servers) -> None:
    a = servers.clients["a"]
    answer = a.put("/peers/extra", json={"Url": "http://127.0.0.1:1/x", "Timeout": 3})
    assert answer.status_code == 200 and answer.text == ""
    assert a.get("/peers/extra/configuration").json() == {
        "HttpHeaders": [], "Pkcs11": False, "Timeout": 3, "Url": "http://127.0.0.1:1/x/"
    }  # fmt: skip
    bad = a.put("/peers/bad", json=["ftp://nowhere"])
    assert bad.status_code == 400 and bad.json()["OrthancStatus"] == 15
    assert a.delete("/peers/extra").status_code == 200
    # the other process of "a" (HttpProcesses 2) may still know "extra": only check this one's list
    assert "bad" not in a.get("/peers").json()


def test_system_of_a_peer(servers: Servers) -> None:
    a = servers.clients["a"]
    assert a.get("/peers/real/system").json()["Name"] == "real"
    assert "ApiVersion" in a.get("/peers/b/system").json()


def test_store_to_orthanc_py_and_real_orthanc_synchronously(servers: Servers) -> None:
    a, b, real = servers.clients["a"], servers.clients["b"], servers.clients["real"]
    uploaded = upload(a, 1)
    content = a.post("/peers/b/store", json={"Resources": [uploaded["ParentStudy"]]}).json()
    assert content["InstancesCount"] == 1 and content["FailedInstancesCount"] == 0
    assert content["Description"] == "REST API" and content["ParentResources"] == [uploaded["ParentStudy"]]
    assert content["Peer"] == [servers.urls["b"] + "/", "alice", ""]
    assert b.get(f"/instances/{uploaded['ID']}").status_code == 200
    assert a.post("/peers/real/store", content=uploaded["ID"]).status_code == 200
    assert real.get(f"/instances/{uploaded['ID']}").status_code == 200


def test_store_asynchronously_then_follow_the_job(servers: Servers) -> None:
    a, b = servers.clients["a"], servers.clients["b"]
    uploaded = upload(a, 2)
    answer = a.post("/peers/b/store", json={"Resources": [uploaded["ParentPatient"]], "Asynchronous": True,
                                            "Priority": 3}).json()  # fmt: skip
    assert answer == {"ID": answer["ID"], "Path": f"/jobs/{answer['ID']}"}
    deadline = time.monotonic() + 20
    while (job := a.get(answer["Path"]).json())["State"] != "Success":
        assert time.monotonic() < deadline and job["State"] in ("Pending", "Running"), job
        time.sleep(0.05)
    assert job["Type"] == "OrthancPeerStore" and job["Priority"] == 3 and job["Progress"] == 100
    assert job["Content"]["InstancesCount"] == 1 and int(job["Content"]["Size"]) > 0
    assert answer["ID"] in a.get("/jobs").json()
    assert any(j["ID"] == answer["ID"] for j in a.get("/jobs", params={"expand": ""}).json())
    assert b.get(f"/instances/{uploaded['ID']}").status_code == 200
    assert a.post(f"/jobs/{answer['ID']}/resubmit").status_code == 400  # it did not fail
    assert a.delete(f"/jobs/{answer['ID']}").json() == {}
    assert a.get(f"/jobs/{answer['ID']}").status_code == 404


def test_store_failures(servers: Servers) -> None:
    a = servers.clients["a"]
    unknown = a.post("/peers/b/store", json=["01234567-01234567-01234567-01234567-01234567"])
    assert unknown.status_code == 404
    assert a.post("/peers/b/store", content=b"not json").json()["OrthancStatus"] == 15
    a.put("/peers/closed", json=[f"http://127.0.0.1:{free_port()}"])
    uploaded = upload(a, 3)
    failed = a.post("/peers/closed/store", json=[uploaded["ID"]])
    assert failed.status_code == 500 and failed.json()["OrthancStatus"] == 9
    job_id = a.post("/peers/closed/store", json={"Resources": [uploaded["ID"]], "Synchronous": False}).json()[
        "ID"
    ]
    deadline = time.monotonic() + 20
    while (job := a.get(f"/jobs/{job_id}").json())["State"] != "Failure":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["ErrorCode"] == 9 and "closed" in job["ErrorDetails"] and "CompletionTime" in job


def test_store_straight(servers: Servers) -> None:
    a, b = servers.clients["a"], servers.clients["b"]
    data = make_instance("STRAIGHT", "1.2.3.44.1", "1.2.3.44.2", "1.2.3.44.3")
    answer = a.post("/peers/b/store-straight", content=data).json()
    assert answer["Status"] == "Success" and b.get(f"/instances/{answer['ID']}").status_code == 200


def test_real_orthanc_stores_to_orthanc_py(servers: Servers) -> None:
    a, real = servers.clients["a"], servers.clients["real"]
    uploaded = upload(real, 4)
    content = real.post("/peers/py/store", json=[uploaded["ParentSeries"]]).json()
    assert content["InstancesCount"] == 1
    assert a.get(f"/instances/{uploaded['ID']}").status_code == 200
