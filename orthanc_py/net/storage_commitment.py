"""Storage commitment (Push Model SOP Class), as Orthanc does it, both ways.

* As SCP: a modality sends an N-ACTION listing SOP instances; it is answered Success at once, then
  each instance is checked (stored, readable, with that SOP class) and the verdict is sent in an
  N-EVENT-REPORT on a *new* association to that modality (looked up by its AET), as Orthanc does:
  the requesting modality usually releases its association right after the N-ACTION response.
* As SCU: :func:`request_commitment` records a pending report in the index under a fresh
  transaction UID (before asking, so the answer cannot come first) and sends the N-ACTION; the
  modality's N-EVENT-REPORT, received by the DICOM server, completes that report
  (:meth:`StorageCommitmentHandlers.on_event_report`). ``/storage-commitment/{id}`` shows it.

Reports live in the index (``StorageCommitmentReportsSize`` of them at most), so every server
process sees the same ones.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from pynetdicom import evt

from ..core.dicom_tags import TAG_SOP_INSTANCE_UID
from ..core.enumerations import MetadataType
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.ingest import read_dataset
from ..core.instances_below import instances_below_in
from .modalities import RemoteModality
from .presentation import STORAGE_COMMITMENT, UNCOMPRESSED_SYNTAXES

if TYPE_CHECKING:
    from ..core.context import ServerContext
    from .modalities import ModalityRegistry
    from .policy import AssociationPolicy

logger = logging.getLogger(__name__)

STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"  # the well-known SOP instance
REQUEST_STORAGE_COMMITMENT = 1  # N-ACTION action type
EVENT_SUCCESSFUL = 1  # N-EVENT-REPORT event types
EVENT_FAILURES_EXIST = 2
SUCCESS = 0x0000
PROCESSING_FAILURE_STATUS = 0x0110


class FailureReason(enum.IntEnum):
    """Failure Reason (0008,1197) values (PS3.3 C.14.1.1), Orthanc's StorageCommitmentFailureReason."""

    Success = 0
    ProcessingFailure = 0x0110
    NoSuchObjectInstance = 0x0112
    ResourceLimitation = 0x0213
    ReferencedSOPClassNotSupported = 0x0122
    ClassInstanceConflict = 0x0119
    DuplicateTransactionUID = 0x0131


@dataclass
class CommitmentReport:
    """One transaction: pending until the remote's N-EVENT-REPORT (or our own verdict) arrives."""

    remote_aet: str
    complete: bool = False
    success: list[tuple[str, str]] = field(default_factory=list)  # (SOP class, SOP instance)
    failures: list[tuple[str, str, int]] = field(default_factory=list)  # ... and failure reason

    @property
    def status(self) -> str:
        if not self.complete:
            return "Pending"
        return "Failure" if self.failures else "Success"

    def to_json(self) -> dict[str, Any]:
        """The body of ``GET /storage-commitment/{id}`` (Orthanc's ``Report::Format``)."""
        answer: dict[str, Any] = {"RemoteAET": self.remote_aet, "Status": self.status}
        if self.complete:
            answer["Success"] = [{"SOPClassUID": c, "SOPInstanceUID": i} for c, i in self.success]
            answer["Failures"] = [
                {"SOPClassUID": c, "SOPInstanceUID": i, "FailureReason": r, "Description": _describe(r)}
                for c, i, r in self.failures
            ]
        return answer

    def stored_content(self) -> str | None:
        if not self.complete:
            return None
        return json.dumps({"Success": self.success, "Failures": self.failures})

    @classmethod
    def from_stored(cls, remote_aet: str, content: str | None) -> CommitmentReport:
        if content is None:
            return cls(remote_aet)
        value = json.loads(content)
        return cls(
            remote_aet,
            True,
            [(c, i) for c, i in value["Success"]],
            [(c, i, int(r)) for c, i, r in value["Failures"]],
        )


# Orthanc's EnumerationToString(StorageCommitmentFailureReason): the "Description" of a failure.
_DESCRIPTIONS = {
    FailureReason.Success: "Success: The DICOM instance is properly stored in the SCP",
    FailureReason.ProcessingFailure: "A general failure in processing the operation was encountered",
    FailureReason.NoSuchObjectInstance: (
        "One or more of the elements in the Referenced SOP Instance Sequence was not available"
    ),
    FailureReason.ResourceLimitation: (
        "The SCP does not currently have enough resources to store the requested SOP Instance(s)"
    ),
    FailureReason.ReferencedSOPClassNotSupported: (
        "Storage Commitment has been requested for a SOP Instance with a SOP Class that is not "
        "supported by the SCP"
    ),
    FailureReason.ClassInstanceConflict: (
        "The SOP Class of an element in the Referenced SOP Instance Sequence did not correspond to "
        "the SOP class registered for this SOP Instance at the SCP"
    ),
    FailureReason.DuplicateTransactionUID: (
        "The Transaction UID of the Storage Commitment Request is already in use"
    ),
}


def _describe(reason: int) -> str:
    try:
        return _DESCRIPTIONS[FailureReason(reason)]
    except ValueError:
        return f"Unknown failure reason 0x{reason:04x}"


# --- reports in the index


async def save_report(context: ServerContext, transaction_uid: str, report: CommitmentReport) -> None:
    keep = context.settings.storage_commitment_reports_size
    async with context.index.transaction(write=True) as tx:
        await tx.set_storage_commitment_report(
            transaction_uid, report.remote_aet, report.stored_content(), keep
        )


async def load_report(context: ServerContext, transaction_uid: str) -> CommitmentReport:
    """The report, or OrthancError(InexistentItem) as Orthanc answers an unknown UID."""
    async with context.index.transaction() as tx:
        found = await tx.get_storage_commitment_report(transaction_uid)
    if found is None:
        raise OrthancError(
            ErrorCode.InexistentItem, f"No storage commitment transaction with UID: {transaction_uid}"
        )
    return CommitmentReport.from_stored(*found)


# --- datasets


def _referenced(dataset: Dataset, keyword: str) -> list[tuple[str, str, int]]:
    items = dataset.get(keyword) or []
    return [
        (
            str(item.get("ReferencedSOPClassUID", "")),
            str(item.get("ReferencedSOPInstanceUID", "")),
            int(item.get("FailureReason", FailureReason.Success)),
        )
        for item in items
    ]


def _sequence(pairs: list[tuple[str, str]], reasons: list[int] | None = None) -> Sequence:
    items = []
    for index, (sop_class, sop_instance) in enumerate(pairs):
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop_instance
        if reasons is not None:
            item.FailureReason = reasons[index]
        items.append(item)
    return Sequence(items)


def _event_dataset(transaction_uid: str, report: CommitmentReport) -> tuple[int, Dataset]:
    dataset = Dataset()
    dataset.TransactionUID = transaction_uid
    dataset.ReferencedSOPSequence = _sequence(report.success)
    if not report.failures:
        return EVENT_SUCCESSFUL, dataset
    dataset.FailedSOPSequence = _sequence(
        [(c, i) for c, i, _ in report.failures], [r for *_, r in report.failures]
    )
    return EVENT_FAILURES_EXIST, dataset


# --- SCU: asking a modality


def new_transaction_uid() -> str:
    """A ``2.25.`` UID, the form Orthanc requires of transaction UIDs."""
    return str(generate_uid(prefix=None))


async def stored_instances(context: ServerContext, public_ids: list[str]) -> list[tuple[str, str]]:
    """(SOP class, SOP instance) of every instance of these resources (any level), as Orthanc's
    ``Resources`` field of a storage commitment request; OrthancError(UnknownResource) if one
    does not exist."""
    async with context.index.transaction() as tx:
        ids = [row.internal_id for row in await instances_below_in(tx, public_ids)]
        tags = await tx.get_main_tags(ids, [TAG_SOP_INSTANCE_UID])
        classes = await tx.get_metadata(ids, [MetadataType.SOP_CLASS_UID])
    return [
        (
            classes.get(internal_id, {}).get(MetadataType.SOP_CLASS_UID, ""),
            tags.get(internal_id, {}).get(TAG_SOP_INSTANCE_UID, ""),
        )
        for internal_id in ids
    ]


async def request_commitment(
    context: ServerContext,
    modality: RemoteModality,
    instances: list[tuple[str, str]],
    timeout: float | None = None,
    transaction_uid: str | None = None,
) -> str:
    """Ask ``modality`` to commit to the (SOP class, SOP instance) pairs; returns the transaction
    UID (``transaction_uid``, or a new one) whose report the modality completes later.
    Raises OrthancError(NetworkProtocol) if the modality refuses or cannot be reached."""
    from .scu import _application_entity, _connect, _release, _timeout

    for sop_class, sop_instance in instances:
        if not sop_class or not sop_instance:
            raise OrthancError(
                ErrorCode.ParameterOutOfRange,
                f'The SOP class/instance UIDs cannot be empty, found: "{sop_class}" / "{sop_instance}"',
            )
    transaction_uid = transaction_uid or new_transaction_uid()
    if not instances:
        logger.warning("Issuing an outgoing storage commitment request that is empty: %s", transaction_uid)
    await save_report(context, transaction_uid, CommitmentReport(modality.aet))
    seconds = _timeout(context, modality, timeout)
    dataset = Dataset()
    dataset.TransactionUID = transaction_uid
    dataset.ReferencedSOPSequence = _sequence(instances)

    def run() -> None:
        ae = _application_entity(context, modality, seconds)
        ae.add_requested_context(STORAGE_COMMITMENT, list(UNCOMPRESSED_SYNTAXES))
        assoc = _connect(ae, modality)
        try:
            status, _ = assoc.send_n_action(
                dataset, REQUEST_STORAGE_COMMITMENT, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE
            )
        finally:
            _release(assoc)
        code = int(status.get("Status", -1)) if status else None
        if code != SUCCESS:
            raise OrthancError(
                ErrorCode.NetworkProtocol,
                f"Storage commitment - The request cannot be handled by remote AET: {modality.aet}",
            )

    await asyncio.to_thread(run)
    return transaction_uid


async def send_report(
    context: ServerContext, modality: RemoteModality, transaction_uid: str, report: CommitmentReport
) -> None:
    """The N-EVENT-REPORT of our verdict, on a new association where we propose the SCP role."""
    from .scu import _application_entity, _connect, _release, _timeout, build_role

    seconds = _timeout(context, modality, None)
    event_type, dataset = _event_dataset(transaction_uid, report)

    def run() -> None:
        ae = _application_entity(context, modality, seconds)
        ae.add_requested_context(STORAGE_COMMITMENT, list(UNCOMPRESSED_SYNTAXES))
        assoc = _connect(ae, modality, ext_neg=[build_role(STORAGE_COMMITMENT)])
        try:
            status, _ = assoc.send_n_event_report(
                dataset, event_type, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE
            )
        finally:
            _release(assoc)
        if not status or int(status.get("Status", -1)) != SUCCESS:
            raise OrthancError(
                ErrorCode.NetworkProtocol,
                f"Storage commitment - The request cannot be handled by remote AET: {modality.aet}",
            )

    await asyncio.to_thread(run)


# --- SCP: answering a modality


async def check_instances(context: ServerContext, instances: list[tuple[str, str]]) -> list[int]:
    """The failure reason of each (SOP class, SOP instance): Orthanc re-reads the stored file and
    compares its UIDs, so an instance whose file is lost is a processing failure."""
    reasons = []
    for sop_class, sop_instance in instances:
        async with context.index.transaction() as tx:
            rows = await tx.lookup_identifier(ResourceLevel.INSTANCE, TAG_SOP_INSTANCE_UID, sop_instance)
        if len(rows) != 1:
            reasons.append(FailureReason.NoSuchObjectInstance)
            continue
        try:
            data = await context.read_dicom_of(rows[0].internal_id)
            dataset = await context.run_cpu(read_dataset, data)
        except OrthancError:
            reasons.append(FailureReason.ProcessingFailure)
            continue
        if str(dataset.get("SOPInstanceUID", "")) != sop_instance:
            reasons.append(FailureReason.ProcessingFailure)
        elif str(dataset.get("SOPClassUID", "")) != sop_class:
            reasons.append(FailureReason.ClassInstanceConflict)
        else:
            reasons.append(FailureReason.Success)
    return [int(r) for r in reasons]


class StorageCommitmentHandlers:
    """EVT_N_ACTION and EVT_N_EVENT_REPORT of the DICOM server (bound by ``handlers.py``)."""

    def __init__(
        self,
        context: ServerContext,
        registry: ModalityRegistry,
        policy: AssociationPolicy,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.context = context
        self.registry = registry
        self.policy = policy
        self.loop = loop
        self.pending: set[asyncio.Future[None]] = set()

    def bindings(self) -> list[tuple[Any, Any]]:
        return [(evt.EVT_N_ACTION, self.on_action), (evt.EVT_N_EVENT_REPORT, self.on_event_report)]

    def _allowed(self, event: evt.Event, request: str) -> bool:
        future = asyncio.run_coroutine_threadsafe(
            self.policy.is_allowed_request(event.assoc, request), self.loop
        )
        return bool(future.result())

    def on_action(self, event: evt.Event) -> tuple[int, Dataset | None]:
        """A storage commitment request: Success now, the verdict later on a new association."""
        if str(getattr(event.request, "RequestedSOPClassUID", "")) != STORAGE_COMMITMENT or not self._allowed(
            event, "NAction"
        ):
            return PROCESSING_FAILURE_STATUS, None
        if event.action_type != REQUEST_STORAGE_COMMITMENT:
            return PROCESSING_FAILURE_STATUS, None
        dataset = event.action_information
        transaction_uid = str(dataset.get("TransactionUID", ""))
        instances = [(c, i) for c, i, _ in _referenced(dataset, "ReferencedSOPSequence")]
        remote_aet = str(event.assoc.requestor.ae_title).strip()
        remote_ip = event.assoc.requestor.address
        future = asyncio.run_coroutine_threadsafe(
            self._answer(transaction_uid, instances, remote_aet, remote_ip), self.loop
        )
        self.pending.add(future)  # type: ignore[arg-type]
        future.add_done_callback(self.pending.discard)  # type: ignore[arg-type]
        return SUCCESS, None

    async def _answer(
        self, transaction_uid: str, instances: list[tuple[str, str]], remote_aet: str, remote_ip: str
    ) -> None:
        try:
            reasons = await check_instances(self.context, instances)
            report = CommitmentReport(remote_aet, True)
            for (sop_class, sop_instance), reason in zip(instances, reasons, strict=True):
                if reason == FailureReason.Success:
                    report.success.append((sop_class, sop_instance))
                else:
                    report.failures.append((sop_class, sop_instance, reason))
            host = remote_ip if self.context.settings.dicom_check_modality_host else None
            modalities = await self.registry.find_by_aet(remote_aet, host)
            if not modalities:
                raise OrthancError(ErrorCode.InexistentItem, f"Unknown remote modality: {remote_aet}")
            await send_report(self.context, modalities[0], transaction_uid, report)
        except Exception as error:  # a background task: log, as Orthanc's failed job would
            logger.error(
                "Storage commitment SCP for %s, transaction %s: %s", remote_aet, transaction_uid, error
            )

    def on_event_report(self, event: evt.Event) -> tuple[int, Dataset | None]:
        """The answer of a modality we asked: complete the report of that transaction."""
        if str(getattr(event.request, "AffectedSOPClassUID", "")) != STORAGE_COMMITMENT or not self._allowed(
            event, "NEventReport"
        ):
            return PROCESSING_FAILURE_STATUS, None
        dataset = event.event_information
        transaction_uid = str(dataset.get("TransactionUID", ""))
        report = CommitmentReport(str(event.assoc.requestor.ae_title).strip(), True)
        report.success = [(c, i) for c, i, _ in _referenced(dataset, "ReferencedSOPSequence")]
        report.failures = _referenced(dataset, "FailedSOPSequence")
        asyncio.run_coroutine_threadsafe(
            save_report(self.context, transaction_uid, report), self.loop
        ).result()
        return SUCCESS, None
