"""``DicomModalityStore``: C-STORE instances to a modality, a batch of them per association."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...net import scu
from ...net.modalities import RemoteModality
from ..errors import OrthancError
from .instances import SetOfInstancesJob
from .model import Job, job_type

if TYPE_CHECKING:
    from ..context import ServerContext

BATCH = 64  # instances per association, i.e. per step between which a pause or cancel is seen


@job_type
class DicomModalityStoreJob(SetOfInstancesJob):
    job_type = "DicomModalityStore"

    def __init__(
        self,
        modality: RemoteModality,
        instances: list[str],
        *,
        local_aet: str,
        move_originator_aet: str = "",
        move_originator_id: int = 0,
        timeout: int = 0,
        transfer_syntax: str = "",
        **common: Any,
    ) -> None:
        super().__init__(instances, **common)
        self.modality = modality
        self.local_aet = local_aet
        self.move_originator_aet = move_originator_aet
        self.move_originator_id = move_originator_id
        self.timeout = timeout
        self.transfer_syntax = transfer_syntax

    @classmethod
    def from_parameters(cls, p: dict[str, Any]) -> Job:
        return cls(
            RemoteModality.from_json(p.get("RemoteName", ""), p["Remote"]),
            list(p["Instances"]),
            local_aet=p["LocalAet"],
            move_originator_aet=p.get("MoveOriginatorAet", ""),
            move_originator_id=int(p.get("MoveOriginatorId", 0)),
            timeout=int(p.get("Timeout", 0)),
            transfer_syntax=p.get("TransferSyntax", ""),
            **cls.common_parameters(p),
        )

    def parameters(self) -> dict[str, Any]:
        return {
            **super().parameters(),
            "Remote": self.modality.to_json(),
            "RemoteName": self.modality.name,
            "LocalAet": self.local_aet,
            "MoveOriginatorAet": self.move_originator_aet,
            "MoveOriginatorId": self.move_originator_id,
            "Timeout": self.timeout,
            "TransferSyntax": self.transfer_syntax,
        }

    def content(self) -> dict[str, Any]:
        content = super().content()
        content["LocalAet"] = self.local_aet
        content["RemoteAet"] = self.modality.aet
        if self.move_originator_aet:
            content["MoveOriginatorAET"] = self.move_originator_aet
            content["MoveOriginatorID"] = self.move_originator_id
        return content

    async def step(self, context: ServerContext, job_id: str) -> bool:
        batch = self.instances[self.position : self.position + BATCH]
        if batch:
            try:
                outcome = await scu.store(
                    context,
                    self.modality,
                    batch,
                    move_originator_aet=self.move_originator_aet or None,
                    move_originator_id=self.move_originator_id if self.move_originator_aet else None,
                    permissive=self.permissive,
                    transfer_syntax=self.transfer_syntax or None,
                    timeout=self.timeout or None,
                )
            except OrthancError:
                if not self.permissive:
                    raise
                self.failed.extend(batch)
            else:
                self.failed.extend(outcome.failed)
            self.position += len(batch)
        return self.position >= len(self.instances)

    async def handle_instance(self, context: ServerContext, instance_id: str) -> bool:
        raise NotImplementedError  # the instances go by batches (step)
