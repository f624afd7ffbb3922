"""``OrthancPeerStore``: send instances to an Orthanc peer, one POST to its ``/instances`` each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...peers.client import PeerClient
from ...peers.registry import OrthancPeer
from .instances import SetOfInstancesJob
from .model import Job, job_type

if TYPE_CHECKING:
    from ..context import ServerContext


@job_type
class OrthancPeerStoreJob(SetOfInstancesJob):
    job_type = "OrthancPeerStore"

    def __init__(self, peer: OrthancPeer, instances: list[str], **common: Any) -> None:
        super().__init__(instances, **common)
        self.peer = peer
        self.size = 0
        self._client: PeerClient | None = None

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> Job:
        peer = OrthancPeer.from_json(parameters.get("PeerName", ""), parameters["Peer"])
        job = cls(peer, list(parameters["Instances"]), **cls.common_parameters(parameters))
        job.size = int(parameters.get("Size", 0))
        return job

    def parameters(self) -> dict[str, Any]:
        return {
            **super().parameters(),
            "Peer": self.peer.serialize(advanced=True, passwords=True),
            "PeerName": self.peer.name,
            "Size": self.size,
        }

    def content(self) -> dict[str, Any]:
        content = super().content()
        content["Peer"] = self.peer.serialize()
        content["Compress"] = False
        content["Size"] = str(self.size)
        content["SizeMB"] = self.size // (1024 * 1024)
        return content

    def reset(self) -> None:
        super().reset()
        self.size = 0

    async def handle_instance(self, context: ServerContext, instance_id: str) -> bool:
        try:
            data = await context.read_dicom(instance_id)
        except Exception:  # removed since the job was submitted: as Orthanc, count it as failed
            return False
        if self._client is None:
            self._client = PeerClient(self.peer, context.settings)
        await self._client.store(data)
        self.size += len(data)
        return True

    async def release(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
