"""``DicomModalityStore``: C-STORE instances to a modality, a batch of them per association, then
(``StorageCommitment``) ask the modality to commit to the instances sent, as Orthanc's
DicomModalityStoreJob does: the transaction UID is in the job's content from its creation, and
the modality's answer completes ``/storage-commitment/{uid}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...net import scu
from ...net import storage_commitment as commitment
from ...net.modalities import RemoteModality
from ..errors import OrthancError
from .instances import SetOfInstancesJob
from .model import Job, job_type
from .remote import modality_content, modality_of_parameters, modality_parameters

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
        storage_commitment: bool = False,
        transaction_uid: str = "",
        commitment_requested: bool = False,
        **common: Any,
    ) -> None:
        super().__init__(instances, **common)
        self.modality = modality
        self.local_aet = local_aet
        self.move_originator_aet = move_originator_aet
        self.move_originator_id = move_originator_id
        self.timeout = timeout
        self.transfer_syntax = transfer_syntax
        self.storage_commitment = storage_commitment
        self.transaction_uid = transaction_uid
        if storage_commitment and not transaction_uid:
            self.transaction_uid = commitment.new_transaction_uid()
        self.commitment_requested = commitment_requested

    @classmethod
    def from_parameters(cls, p: dict[str, Any]) -> Job:
        return cls(
            modality_of_parameters(p),
            list(p["Instances"]),
            local_aet=p["LocalAet"],
            move_originator_aet=p.get("MoveOriginatorAet", ""),
            move_originator_id=int(p.get("MoveOriginatorId", 0)),
            timeout=int(p.get("Timeout", 0)),
            transfer_syntax=p.get("TransferSyntax", ""),
            storage_commitment=bool(p.get("StorageCommitment", False)),
            transaction_uid=p.get("StorageCommitmentTransactionUID", ""),
            commitment_requested=bool(p.get("StorageCommitmentRequested", False)),
            **cls.common_parameters(p),
        )

    def parameters(self) -> dict[str, Any]:
        return {
            **super().parameters(),
            **modality_parameters(self.modality, self.local_aet),
            "MoveOriginatorAet": self.move_originator_aet,
            "MoveOriginatorId": self.move_originator_id,
            "Timeout": self.timeout,
            "TransferSyntax": self.transfer_syntax,
            "StorageCommitment": self.storage_commitment,
            "StorageCommitmentTransactionUID": self.transaction_uid,
            "StorageCommitmentRequested": self.commitment_requested,
        }

    def content(self) -> dict[str, Any]:
        content = super().content() | modality_content(self.modality, self.local_aet)
        if self.move_originator_aet:
            content["MoveOriginatorAET"] = self.move_originator_aet
            content["MoveOriginatorID"] = self.move_originator_id
        if self.storage_commitment:
            content["StorageCommitmentTransactionUID"] = self.transaction_uid
        return content

    def reset(self) -> None:
        super().reset()
        self.commitment_requested = False
        if self.storage_commitment:  # a new transaction, as Orthanc's ResetStorageCommitment
            self.transaction_uid = commitment.new_transaction_uid()

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
            return False
        if self.storage_commitment and not self.commitment_requested:
            await self._request_commitment(context)
        return True

    async def _request_commitment(self, context: ServerContext) -> None:
        """The trailing step: ask the modality to commit to the instances it accepted."""
        failed = set(self.failed)
        sent = [i for i in self.instances if i not in failed]
        pairs = await commitment.stored_instances(context, sent)
        await commitment.request_commitment(
            context, self.modality, pairs, self.timeout or None, transaction_uid=self.transaction_uid
        )
        self.commitment_requested = True

    async def handle_instance(self, context: ServerContext, instance_id: str) -> bool:
        raise NotImplementedError  # the instances go by batches (step)
