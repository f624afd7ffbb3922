"""The DICOM client (SCU): C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET towards a remote modality.

pynetdicom blocks, so each association is opened and driven from worker threads
(``asyncio.to_thread``) while files are read and stored through the ServerContext on the event loop.
Failures raise ``OrthancError`` with the code and message Orthanc uses, e.g. ``NetworkProtocol``
``DicomAssociation - connecting to AET "X": ...`` when the association cannot be opened.

The calling AET is the modality's ``LocalAet`` or else ``DicomAet``; timeouts are the modality's
``Timeout`` or else ``DicomScuTimeout``; the maximum PDU is ``MaximumPduLength``.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pynetdicom import AE, build_context, evt
from pynetdicom.association import Association

from ..core.enumerations import specific_character_set
from ..core.errors import ErrorCode, OrthancError
from ..core.instances_below import sop_class_and_syntax_of_file, sop_classes_and_syntaxes
from .modalities import RemoteModality
from .presentation import (
    EXPLICIT_LITTLE_ENDIAN,
    IMPLICIT_LITTLE_ENDIAN,
    PATIENT_ROOT_FIND,
    PATIENT_ROOT_GET,
    PATIENT_ROOT_MOVE,
    STUDY_ROOT_FIND,
    STUDY_ROOT_GET,
    STUDY_ROOT_MOVE,
    UNCOMPRESSED_SYNTAXES,
    VERIFICATION,
    WORKLIST_FIND,
    storage_contexts_for_retrieve,
)

if TYPE_CHECKING:
    from ..core.context import ServerContext

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called on the event loop after each sub-operation."""

_LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")


@dataclass
class StoreOutcome:
    """What a C-STORE SCU run did: the public IDs of the instances sent and of those that failed."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class RetrieveOutcome:
    """Counters of a C-MOVE or C-GET, as reported by the remote (final response)."""

    completed: int = 0
    failed: int = 0
    warning: int = 0
    received: list[str] = field(default_factory=list)  # C-GET: public IDs of the instances stored


# --- association


def _timeout(context: ServerContext, modality: RemoteModality, timeout: float | None) -> float:
    if timeout:
        return float(timeout)
    return float(modality.timeout or context.settings.dicom_scu_timeout or 10)


def _application_entity(context: ServerContext, modality: RemoteModality, timeout: float) -> AE:
    ae = AE(ae_title=modality.local_aet or context.settings.dicom_aet)
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    ae.maximum_pdu_size = context.settings.maximum_pdu_length
    return ae


def _connect(ae: AE, modality: RemoteModality, **kwargs: Any) -> Association:
    """Open the association, or raise Orthanc's ``DicomAssociation - connecting ...`` error."""
    assoc = ae.associate(modality.host, modality.port, ae_title=modality.aet, **kwargs)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        reason = "Association Rejected"
    elif assoc.is_aborted:
        reason = "Association Aborted"
    else:
        reason = f"TCP Initialization Error: cannot connect to {modality.host}:{modality.port}"
    raise OrthancError(
        ErrorCode.NetworkProtocol, f'DicomAssociation - connecting to AET "{modality.aet}": {reason}'
    )


def _failure(service: str, modality: RemoteModality, status: int | None) -> OrthancError:
    if status is None:
        return OrthancError(ErrorCode.NetworkProtocol, f'{service} SCU to AET "{modality.aet}": no answer')
    return OrthancError(
        ErrorCode.NetworkProtocol,
        f'{service} SCU to AET "{modality.aet}" has failed with DIMSE status 0x{status:04X}',
    )


def _no_context(modality: RemoteModality) -> OrthancError:
    return OrthancError(
        ErrorCode.NetworkProtocol,
        f'Unable to negotiate a presentation context with AET "{modality.aet}"',
    )


def _release(assoc: Association) -> None:
    try:
        assoc.release()
    except Exception:  # pragma: no cover - the peer went away
        assoc.abort()


# --- C-ECHO


async def echo(context: ServerContext, modality: RemoteModality, timeout: float | None = None) -> None:
    """C-ECHO the modality; raises OrthancError(NetworkProtocol) if it does not answer Success."""
    seconds = _timeout(context, modality, timeout)

    def run() -> None:
        ae = _application_entity(context, modality, seconds)
        ae.add_requested_context(VERIFICATION)
        assoc = _connect(ae, modality)
        try:
            status = assoc.send_c_echo()
        finally:
            _release(assoc)
        if not status or status.Status != 0:
            code = f"0x{status.Status:04x}" if status else "no answer"
            raise OrthancError(
                ErrorCode.NetworkProtocol, f'DicomAssociation - C-ECHO to AET "{modality.aet}": {code}'
            )

    await asyncio.to_thread(run)


# --- C-STORE


async def store(
    context: ServerContext,
    modality: RemoteModality,
    instance_ids: Iterable[str],
    *,
    move_originator_aet: str | None = None,
    move_originator_id: int | None = None,
    progress: Progress | None = None,
    permissive: bool = False,
    transfer_syntax: str | None = None,
    timeout: float | None = None,
) -> StoreOutcome:
    """C-STORE the instances (public IDs) over one association.

    Files are read with ``context.read_dicom``. Each SOP class is proposed with the file's own
    transfer syntax and the uncompressed ones (or only ``transfer_syntax`` when given). A failed
    instance raises OrthancError(NetworkProtocol), unless ``permissive``: it is then listed in
    ``StoreOutcome.failed`` and the others are still sent.
    """
    ids = list(instance_ids)
    outcome = StoreOutcome()
    if not ids:
        return outcome
    seconds = _timeout(context, modality, timeout)
    # First the SOP classes and syntaxes to propose, as the index recorded them.
    proposals: dict[str, set[str]] = {}
    for sop_class, syntax in await sop_classes_and_syntaxes(context, ids):
        _propose(proposals, sop_class, syntax, modality, transfer_syntax)

    def open_association() -> Association:
        return _open_store_association(context, modality, proposals, seconds)

    assoc = await asyncio.to_thread(open_association)
    try:
        for done, public_id in enumerate(ids, start=1):
            data = await context.read_dicom(public_id)
            try:
                await asyncio.to_thread(
                    _send_one, assoc, modality, data, transfer_syntax, move_originator_aet, move_originator_id
                )
                outcome.sent.append(public_id)
            except OrthancError:
                if not permissive:
                    raise
                logger.warning("Cannot send instance %s to modality %s", public_id, modality.name)
                outcome.failed.append(public_id)
                if not assoc.is_established:
                    assoc = await asyncio.to_thread(open_association)
            if progress is not None:
                progress(done, len(ids))
    finally:
        await asyncio.to_thread(_release, assoc)
    return outcome


async def store_bytes(
    context: ServerContext, modality: RemoteModality, data: bytes, timeout: float | None = None
) -> tuple[str, str]:
    """C-STORE one DICOM file given as bytes (not stored here) on an association of its own;
    returns its (SOP class UID, SOP instance UID). Raises OrthancError as ``store`` does."""
    seconds = _timeout(context, modality, timeout)

    def run() -> tuple[str, str]:
        proposals: dict[str, set[str]] = {}
        sop_class = _propose(proposals, *sop_class_and_syntax_of_file(data), modality, None)
        assoc = _open_store_association(context, modality, proposals, seconds)
        try:
            sop_instance = _send_one(assoc, modality, data, None, None, None)
        finally:
            _release(assoc)
        return sop_class, sop_instance

    return await asyncio.to_thread(run)


def _propose(
    proposals: dict[str, set[str]],
    sop_class: str,
    syntax: str,
    modality: RemoteModality,
    transfer_syntax: str | None,
) -> str:
    """Add the presentation contexts that sending an instance of ``sop_class`` stored in
    ``syntax`` needs; returns ``sop_class``."""
    wanted = {transfer_syntax} if transfer_syntax else {syntax, *UNCOMPRESSED_SYNTAXES}
    if not modality.allow_transcoding and not transfer_syntax:
        wanted = {syntax}
    proposals.setdefault(sop_class, set()).update(wanted)
    if len(proposals) > 128:
        raise OrthancError(ErrorCode.ParameterOutOfRange, "Too many proposed presentation contexts")
    return sop_class


def _open_store_association(
    context: ServerContext, modality: RemoteModality, proposals: dict[str, set[str]], seconds: float
) -> Association:
    ae = _application_entity(context, modality, seconds)
    for sop_class, syntaxes in proposals.items():
        ae.add_requested_context(sop_class, sorted(syntaxes, key=_syntax_preference))
    return _connect(ae, modality)


def _syntax_preference(syntax: str) -> tuple[int, str]:
    """Propose the file's own syntax first, then explicit, then implicit little endian."""
    order = {EXPLICIT_LITTLE_ENDIAN: 1, IMPLICIT_LITTLE_ENDIAN: 2}
    return (order.get(syntax, 0 if syntax not in UNCOMPRESSED_SYNTAXES else 3), syntax)


def _send_one(
    assoc: Association,
    modality: RemoteModality,
    data: bytes,
    transfer_syntax: str | None,
    originator_aet: str | None,
    originator_id: int | None,
) -> str:
    """Send one file on the association; returns its SOP instance UID."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    source = str(dataset.file_meta.get("TransferSyntaxUID", IMPLICIT_LITTLE_ENDIAN))
    accepted = {
        c.transfer_syntax[0]
        for c in assoc.accepted_contexts
        if c.abstract_syntax == dataset.SOPClassUID and c.transfer_syntax
    }
    if not accepted:
        raise _no_context(modality)
    if transfer_syntax is None and source in accepted:
        target = source
    elif transfer_syntax is not None and transfer_syntax in accepted:
        target = transfer_syntax
    else:
        target = EXPLICIT_LITTLE_ENDIAN if EXPLICIT_LITTLE_ENDIAN in accepted else next(iter(accepted))
    if target != source:
        from ..core.transcoding import transcode

        dataset = pydicom.dcmread(io.BytesIO(transcode(data, target)))
    kwargs: dict[str, Any] = {}
    if originator_aet:
        kwargs["originator_aet"] = originator_aet
        kwargs["originator_id"] = originator_id or 0
    status = assoc.send_c_store(dataset, **kwargs)
    if not status or status.Status not in (0x0000, 0xB000, 0xB007, 0xB006):
        code = f"0x{status.Status:04X}" if status else "no answer"
        raise OrthancError(
            ErrorCode.NetworkProtocol,
            f'C-STORE SCU to AET "{modality.aet}" has failed with DIMSE status {code}',
        )
    return str(dataset.SOPInstanceUID)


# --- C-FIND


def _level_keyword(level: str) -> str:
    value = level.upper()
    if value == "INSTANCE":
        value = "IMAGE"
    if value not in _LEVELS:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Unknown resource level: {level}")
    return value


def _query_dataset(level: str, query: dict[str, str]) -> Dataset:
    from pydicom.datadict import tag_for_keyword

    dataset = Dataset()
    dataset.QueryRetrieveLevel = level
    for key, value in query.items():
        if "," in key:
            group, element = key.split(",", 1)
            tag = (int(group, 16) << 16) | int(element, 16)
        else:
            found = tag_for_keyword(key)
            if found is None:
                raise OrthancError(ErrorCode.UnknownDicomTag, key)
            tag = int(found)
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = "LO"
        if vr == "SQ":
            dataset.add_new(tag, vr, [])
        else:
            dataset.add_new(tag, vr, value if value != "" else None)
    return dataset


def _find_model(level: str) -> str:
    # Orthanc queries the Study Root model, except at the patient level (Patient Root).
    if level == "PATIENT":
        return PATIENT_ROOT_FIND
    return STUDY_ROOT_FIND


# The identifiers that Orthanc adds (empty) to every C-FIND below and at the level, so that
# answers can be retrieved later (DicomControlUserConnection::Find).
_FIND_IDENTIFIERS = {
    "PATIENT": (0x00100020,),
    "STUDY": (0x00100020, 0x0020000D, 0x00080050),
    "SERIES": (0x00100020, 0x0020000D, 0x00080050, 0x0020000E),
    "IMAGE": (0x00100020, 0x0020000D, 0x00080050, 0x0020000E, 0x00080018),
}
# Computed keys that Normalize lets through at each level, besides the DICOM modules.
_COUNTS = {
    "PATIENT": {0x00201200, 0x00201202, 0x00201204},
    "STUDY": {0x00080061, 0x00201206, 0x00201208, 0x00080062},
    "SERIES": {0x00201209},
    "IMAGE": set(),
}
SOP_INSTANCE_UID = 0x00080018
MEDIA_STORAGE_SOP_INSTANCE_UID = 0x00020003


def _allowed_find_tags(level: str) -> set[int]:
    """Orthanc's NormalizeFindQuery: the tags of the DICOM modules of the level and the levels
    above, its computed counts, and SpecificCharacterSet."""
    from ..core.dicom_modules import MODULE_TAGS
    from ..core.identifiers import ResourceLevel

    modules = [ResourceLevel.PATIENT, ResourceLevel.STUDY, ResourceLevel.SERIES, ResourceLevel.INSTANCE]
    allowed = {0x00080005} | _COUNTS[level]
    for module in modules[: _LEVELS.index(level) + 1]:
        allowed |= MODULE_TAGS[module]
    return allowed


def default_character_set(context: ServerContext) -> str:
    return specific_character_set(context.settings.default_encoding)


def _as_orthanc_answer(answer: Dataset, charset: str) -> Dataset:
    """An answer as Orthanc keeps it: its text decoded and re-encoded in the DefaultEncoding, and
    the SOP Instance UID mirrored in the file meta field, as Orthanc's DICOM file of it has."""
    answer.decode()
    answer.SpecificCharacterSet = charset
    if SOP_INSTANCE_UID in answer:
        answer.add_new(MEDIA_STORAGE_SOP_INSTANCE_UID, "UI", answer[SOP_INSTANCE_UID].value)
    return answer


async def find(
    context: ServerContext,
    modality: RemoteModality,
    level: str,
    query: dict[str, str],
    normalize: bool = True,
    timeout: float | None = None,
) -> list[Dataset]:
    """C-FIND at ``level`` ("Patient", "Study", "Series", "Instance"); ``query`` maps a tag
    keyword or "gggg,eeee" to its value. As Orthanc: with ``normalize``, only the tags of the
    level's DICOM modules (and those above) are kept; the identifiers of the levels down to this
    one are always added as empty return keys, so that answers can be retrieved later; the query
    is sent in the DefaultEncoding. Answers are returned as pydicom datasets, in arrival order."""
    keyword = _level_keyword(level)
    identifier = _query_dataset(keyword, query)
    if normalize:
        allowed = _allowed_find_tags(keyword)
        for tag in [element.tag for element in identifier if element.tag != 0x00080052]:
            if tag not in allowed:
                del identifier[tag]
    if SOP_INSTANCE_UID in identifier:  # Orthanc's DICOM file of the query has it in its meta header
        identifier.add_new(MEDIA_STORAGE_SOP_INSTANCE_UID, "UI", identifier[SOP_INSTANCE_UID].value)
    charset = default_character_set(context)
    identifier.SpecificCharacterSet = charset
    for needed in _FIND_IDENTIFIERS[keyword]:
        if needed not in identifier:
            identifier.add_new(needed, dictionary_VR(needed), None)
    seconds = _timeout(context, modality, timeout)
    model = _find_model(keyword)
    answers = await _c_find(context, modality, model, identifier, seconds)
    return [_as_orthanc_answer(answer, charset) for answer in answers]


async def _c_find(
    context: ServerContext, modality: RemoteModality, model: str, identifier: Dataset, seconds: float
) -> list[Dataset]:
    """One C-FIND association on ``model``: the pending answers, in arrival order."""

    def run() -> list[Dataset]:
        ae = _application_entity(context, modality, seconds)
        ae.add_requested_context(model)
        assoc = _connect(ae, modality)
        answers: list[Dataset] = []
        try:
            for status, found in assoc.send_c_find(identifier, model):
                if not status:
                    raise _failure("C-FIND", modality, None)
                if status.Status in (0xFF00, 0xFF01) and found is not None:
                    answers.append(found)
                elif status.Status != 0:
                    raise _failure("C-FIND", modality, status.Status)
        finally:
            _release(assoc)
        return answers

    return await asyncio.to_thread(run)


async def find_worklist(
    context: ServerContext, modality: RemoteModality, query: Dataset, timeout: float | None = None
) -> list[Dataset]:
    """C-FIND on the Modality Worklist model with ``query`` as the identifier; the answers in
    arrival order. Raises OrthancError(NetworkProtocol) as ``find`` does."""
    return await _c_find(context, modality, WORKLIST_FIND, query, _timeout(context, modality, timeout))


# --- C-MOVE and C-GET


# What a C-MOVE (or C-GET) of each level names, whatever else is known of the resource (Orthanc's
# DicomControlUserConnection::Move).
_MOVE_IDENTIFIERS = {
    "PATIENT": (0x00100020,),
    "STUDY": (0x0020000D,),
    "SERIES": (0x0020000D, 0x0020000E),
    "IMAGE": (0x0020000D, 0x0020000E, 0x00080018),
}


def _move_identifiers(level: str, fields: dict[str, str]) -> dict[str, str]:
    from ..core.dicom_tags import format_tag, parse_tag

    wanted = _MOVE_IDENTIFIERS[level]
    return {format_tag(tag): value for key, value in fields.items() if (tag := parse_tag(key)) in wanted}


async def move(
    context: ServerContext,
    modality: RemoteModality,
    level: str,
    identifiers: dict[str, str],
    target_aet: str,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> RetrieveOutcome:
    """C-MOVE the resources matching ``identifiers`` (e.g. ``{"StudyInstanceUID": ...}``) from the
    modality to ``target_aet``. Raises OrthancError(NetworkProtocol) if any sub-operation failed."""
    keyword = _level_keyword(level)
    identifier = _query_dataset(keyword, _move_identifiers(keyword, identifiers))
    seconds = _timeout(context, modality, timeout)
    model = PATIENT_ROOT_MOVE
    if keyword != "PATIENT":
        model = STUDY_ROOT_MOVE
    loop = asyncio.get_running_loop()

    def report(done: int, total: int) -> None:
        if progress is not None:
            loop.call_soon_threadsafe(progress, done, total)

    def run() -> RetrieveOutcome:
        ae = _application_entity(context, modality, seconds)
        ae.add_requested_context(model)
        assoc = _connect(ae, modality)
        outcome = RetrieveOutcome()
        try:
            _follow_suboperations(
                assoc.send_c_move(identifier, target_aet, model), outcome, "C-MOVE", modality, report
            )
        finally:
            _release(assoc)
        return outcome

    return await asyncio.to_thread(run)


def _follow_suboperations(
    responses: Iterable[tuple[Dataset, Any]],
    outcome: RetrieveOutcome,
    operation: str,
    modality: RemoteModality,
    report: Callable[[int, int], None],
) -> None:
    """Count the sub-operations of the responses of a C-MOVE or C-GET into ``outcome``, reporting
    (done, total) while they are pending; OrthancError(NetworkProtocol) on a failure status."""
    for status, _ in responses:
        if not status:
            raise _failure(operation, modality, None)
        _count(outcome, status)
        if status.Status in (0xFF00, 0xFF01):
            done = outcome.completed + outcome.failed + outcome.warning
            report(done, done + int(status.get("NumberOfRemainingSuboperations", 0)))
        elif status.Status not in (0x0000, 0xB000):
            raise _failure(operation, modality, status.Status)


def _count(outcome: RetrieveOutcome, status: Dataset) -> None:
    outcome.completed = int(status.get("NumberOfCompletedSuboperations", outcome.completed) or 0)
    outcome.failed = int(status.get("NumberOfFailedSuboperations", outcome.failed) or 0)
    outcome.warning = int(status.get("NumberOfWarningSuboperations", outcome.warning) or 0)


async def get(
    context: ServerContext,
    modality: RemoteModality,
    level: str,
    identifiers: dict[str, str],
    progress: Progress | None = None,
    timeout: float | None = None,
) -> RetrieveOutcome:
    """C-GET the resources matching ``identifiers``; each instance received on the association is
    stored through ``context.store`` with Origin ``DicomProtocol``."""
    from ..core.context import RequestOrigin

    keyword = _level_keyword(level)
    identifier = _query_dataset(keyword, _move_identifiers(keyword, identifiers))
    seconds = _timeout(context, modality, timeout)
    model = PATIENT_ROOT_GET
    if keyword != "PATIENT":
        model = STUDY_ROOT_GET
    loop = asyncio.get_running_loop()
    calling_aet = modality.local_aet or context.settings.dicom_aet
    origin = RequestOrigin(
        origin="DicomProtocol", remote_ip=modality.host, remote_aet=modality.aet, called_aet=calling_aet
    )
    outcome = RetrieveOutcome()

    def report(done: int, total: int) -> None:
        if progress is not None:
            loop.call_soon_threadsafe(progress, done, total)

    def on_store(event: evt.Event) -> int:
        from .handlers import received_file_bytes

        data = received_file_bytes(event)
        future = asyncio.run_coroutine_threadsafe(context.store(data, origin), loop)
        try:
            result = future.result()
        except OrthancError:
            logger.exception("C-GET: cannot store an instance received from %s", modality.aet)
            return 0xA700
        outcome.received.append(result.instance.ids.instance)
        return 0x0000

    def run() -> RetrieveOutcome:
        ae = _application_entity(context, modality, seconds)
        ae.add_requested_context(model)
        roles = []
        for storage_context in storage_contexts_for_retrieve():
            sop_class = str(storage_context.abstract_syntax)
            ae.add_requested_context(sop_class, storage_context.transfer_syntax)
            roles.append(build_role(sop_class))
        assoc = _connect(ae, modality, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
        try:
            _follow_suboperations(assoc.send_c_get(identifier, model), outcome, "C-GET", modality, report)
        finally:
            _release(assoc)
        return outcome

    return await asyncio.to_thread(run)


def build_role(sop_class: str) -> Any:
    from pynetdicom import build_role as pynetdicom_build_role

    return pynetdicom_build_role(sop_class, scp_role=True)


__all__ = [
    "RetrieveOutcome",
    "StoreOutcome",
    "build_context",
    "echo",
    "find",
    "find_worklist",
    "get",
    "move",
    "store",
    "store_bytes",
]
