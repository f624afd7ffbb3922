"""The DICOM server's answers: one pynetdicom event handler per DIMSE service, each calling the core.

pynetdicom runs every association in its own thread; the handlers hand the work to the server's
event loop (``asyncio.run_coroutine_threadsafe``) and wait for it, so storing and querying go
through the same ``ServerContext`` and query engine as the REST API.

Each request is first checked against the association policy (``policy.py``); a request that is
not allowed aborts the association, as Orthanc does.
"""

from __future__ import annotations

import asyncio
import io
import logging
import struct
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pynetdicom import build_context, evt
from pynetdicom.dimse_primitives import C_STORE

from ..core.context import RequestOrigin
from ..core.dicom_tags import TAG_PATIENT_ID, TAG_SOP_INSTANCE_UID, TAG_STUDY_INSTANCE_UID
from ..core.enumerations import specific_character_set
from ..core.errors import OrthancError
from ..core.identifiers import ResourceLevel
from ..core.ingest import read_dataset
from ..core.instances_below import instances_of_rows, sop_classes_and_syntaxes
from ..core.query import FindQuery, find_resources
from ..core.requested_tags import descendants, requested_tag_values
from .find_encoding import AnswerEncoder, pending_command, pending_pdus
from .presentation import EXPLICIT_LITTLE_ENDIAN, IMPLICIT_LITTLE_ENDIAN
from .storage_commitment import StorageCommitmentHandlers

if TYPE_CHECKING:
    from ..core.context import ServerContext
    from ..index.base import ResourceRow, Transaction
    from .modalities import ModalityRegistry
    from .policy import AssociationPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")

TAG_SERIES_INSTANCE_UID = 0x0020000E
TAG_ACCESSION_NUMBER = 0x00080050
TAG_QUERY_RETRIEVE_LEVEL = 0x00080052
TAG_SPECIFIC_CHARACTER_SET = 0x00080005
TAG_RETRIEVE_AE_TITLE = 0x00080054
_LEVELS = {
    "PATIENT": ResourceLevel.PATIENT,
    "STUDY": ResourceLevel.STUDY,
    "SERIES": ResourceLevel.SERIES,
    "IMAGE": ResourceLevel.INSTANCE,
    "INSTANCE": ResourceLevel.INSTANCE,
}
_IDENTIFIER_OF_LEVEL = {
    ResourceLevel.PATIENT: TAG_PATIENT_ID,
    ResourceLevel.STUDY: TAG_STUDY_INSTANCE_UID,
    ResourceLevel.SERIES: TAG_SERIES_INSTANCE_UID,
    ResourceLevel.INSTANCE: TAG_SOP_INSTANCE_UID,
}

# DIMSE statuses
SUCCESS = 0x0000
PENDING = 0xFF00
OUT_OF_RESOURCES = 0xA700
UNABLE_TO_PROCESS = 0xC000
MOVE_DESTINATION_UNKNOWN = 0xA801
IDENTIFIER_DOES_NOT_MATCH = 0xA900


class DicomHandlers:
    """The handlers bound to one running server (``scp.py`` creates it)."""

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
        self.storage_commitment = StorageCommitmentHandlers(context, registry, policy, loop)

    def bindings(self) -> list[tuple[Any, Any]]:
        return [
            *self.storage_commitment.bindings(),
            (evt.EVT_REQUESTED, self.policy.on_association_requested),
            (evt.EVT_ACCEPTED, self.policy.on_association_accepted),
            (evt.EVT_C_ECHO, self.on_echo),
            (evt.EVT_C_STORE, self.on_store),
            (evt.EVT_C_FIND, self.on_find),
            (evt.EVT_C_MOVE, self.on_move),
            (evt.EVT_C_GET, self.on_get),
        ]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop from an association thread, and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def _allowed(self, event: evt.Event, request: str) -> bool:
        if self.run(self.policy.is_allowed_request(event.assoc, request)):
            return True
        event.assoc.abort()
        return False

    # --- C-ECHO

    def on_echo(self, event: evt.Event) -> int:
        if not self._allowed(event, "Echo"):
            return UNABLE_TO_PROCESS
        return SUCCESS

    # --- C-STORE

    def on_store(self, event: evt.Event) -> int:
        data = received_file_bytes(event)
        requestor = event.assoc.requestor
        origin = RequestOrigin(
            origin="DicomProtocol",
            remote_ip=requestor.address,
            remote_aet=requestor.ae_title,
            called_aet=event.assoc.acceptor.ae_title,
        )
        try:
            if not self.run(self._store_if_allowed(event.assoc, data, origin)):
                event.assoc.abort()
                return OUT_OF_RESOURCES
        except OrthancError as error:
            logger.error("C-STORE from %s refused: %s", requestor.ae_title, error.details or error.code.name)
            return OUT_OF_RESOURCES
        except Exception:
            logger.exception("C-STORE from %s failed", requestor.ae_title)
            return OUT_OF_RESOURCES
        return SUCCESS

    async def _store_if_allowed(self, assoc: Any, data: bytes, origin: RequestOrigin) -> bool:
        """The policy check and the store in one trip to the event loop: a modality sending one
        image after the other waits for each trip."""
        if not await self.policy.is_allowed_request(assoc, "Store"):
            return False
        await self.context.store(data, origin)
        return True

    # --- C-FIND

    def on_find(self, event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        model = str(event.request.AffectedSOPClassUID)
        request = "FindWorklist" if model == "1.2.840.10008.5.1.4.31" else "Find"
        if not self._allowed(event, request):
            yield UNABLE_TO_PROCESS, None
            return
        if request == "FindWorklist":  # no worklist provider is built in: no answer
            yield SUCCESS, None
            return
        query = event.identifier
        try:
            matches = self.run(self._find_matches(query))
        except (OrthancError, ValueError) as error:
            logger.error("C-FIND from %s failed: %s", event.assoc.requestor.ae_title, error)
            yield UNABLE_TO_PROCESS, None
            return
        syntax = str(event.context.transfer_syntax)
        if not matches.sequences and AnswerEncoder.supports(matches.charset, syntax):
            # The usual case, thousands of answers for a study list: encoded and sent from here.
            encoder = AnswerEncoder(matches.charset, syntax)
            request_id = int(event.request.MessageID or 0)
            command = pending_command(str(event.request.AffectedSOPClassUID), request_id)
            context_id = int(event.context.context_id or 0)
            max_pdu = int(event.assoc.dimse.maximum_pdu_size or 0)  # of the peer; 0: no limit
            for elements in matches.answers():
                if event.is_cancelled:
                    yield 0xFE00, None
                    return
                for pdu in pending_pdus(context_id, command, encoder.encode(elements), max_pdu):
                    event.assoc.dul.send_pdu(pdu)
            yield SUCCESS, None
            return
        for answer in matches.datasets():
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield PENDING, answer
        yield SUCCESS, None

    async def _find_matches(self, query: Dataset) -> FindMatches:
        level_text = str(query.get("QueryRetrieveLevel", "")).strip().upper()
        level = _LEVELS.get(level_text)
        if level is None:
            raise ValueError(f"Bad QueryRetrieveLevel: {level_text!r}")
        constraints: dict[int, str] = {}
        requested: list[int] = []
        sequences: list[int] = []  # answered from a stored file, never matched (as Orthanc)
        for element in query:
            tag = int(element.tag)
            if tag in (TAG_QUERY_RETRIEVE_LEVEL, TAG_SPECIFIC_CHARACTER_SET):
                continue
            if element.tag.group in (0, 2) or element.tag.is_private:
                continue
            if element.VR == "SQ":
                sequences.append(tag)
                continue
            requested.append(tag)
            value = _text(element.value)
            if value and value != "*":
                constraints[tag] = value
        # C-FIND matching is case-sensitive except for person names (CaseSensitivePN).
        sensitive_pn = self.context.settings.case_sensitive_pn
        find = FindQuery(level=level, constraints=constraints, case_sensitive_pn=sensitive_pn)
        values: dict[int, dict[int, str]] = {}
        stored_sequences: dict[int, Dataset] = {}
        async with self.context.index.transaction() as tx:
            rows = await find_resources(self.context, tx, find)
            if rows and requested:
                values = await requested_tag_values(self.context, tx, rows, requested)
            if rows and sequences:
                stored_sequences = await self._stored_sequences(tx, rows, sequences)
        return FindMatches(
            level_text=level_text,
            # Orthanc answers in its DefaultEncoding, whatever character set the query used.
            charset=specific_character_set(self.context.settings.default_encoding),
            aet=self.context.settings.dicom_aet,
            requested=requested,
            sequences=sequences,
            values=[values.get(row.internal_id, {}) for row in rows],
            stored_sequences=[stored_sequences.get(row.internal_id, Dataset()) for row in rows]
            if sequences
            else [],
        )

    async def _stored_sequences(
        self, tx: Transaction, rows: list[ResourceRow], tags: list[int]
    ) -> dict[int, Dataset]:
        """The requested sequences as stored in one instance of each resource (Orthanc reads
        them from the file too)."""
        level = rows[0].level
        if level is ResourceLevel.INSTANCE:
            instance_of = {r.internal_id: r.internal_id for r in rows}
        else:
            below = await descendants(tx, [r.internal_id for r in rows], ResourceLevel.INSTANCE - level)
            instance_of = {i: rs[0].internal_id for i, rs in below.items() if rs}
        found: dict[int, Dataset] = {}
        for resource_id, instance_id in instance_of.items():
            data = await self.context.read_dicom_of(instance_id)
            dataset = await self.context.run_cpu(read_dataset, data)
            kept = Dataset()
            for tag in tags:
                if tag in dataset:
                    kept.add(dataset[tag])
            found[resource_id] = kept
        return found

    # --- C-MOVE and C-GET

    async def _instances(self, query: Dataset) -> list[str]:
        """Public IDs of the instances a C-MOVE/C-GET identifier designates (Orthanc's rules: the
        identifier of the QueryRetrieveLevel, several separated by backslashes; AccessionNumber
        when a study-level request has no StudyInstanceUID)."""
        level_text = str(query.get("QueryRetrieveLevel", "")).strip().upper()
        level = _LEVELS.get(level_text)
        if level is None:
            raise ValueError(f"Bad QueryRetrieveLevel: {level_text!r}")
        tag = _IDENTIFIER_OF_LEVEL[level]
        raw = _text(query[tag].value) if tag in query else ""
        if not raw and level is ResourceLevel.STUDY and TAG_ACCESSION_NUMBER in query:
            tag, raw = TAG_ACCESSION_NUMBER, _text(query[TAG_ACCESSION_NUMBER].value)
        if not raw:
            raise ValueError(f"No identifier at level {level_text} in the C-MOVE/C-GET request")
        async with self.context.index.transaction() as tx:
            rows = []
            for value in raw.split("\\"):
                rows += await tx.lookup_identifier(level, tag, value.strip())
            return [i.public_id for i in await instances_of_rows(tx, rows)]

    def _read_dataset(self, public_id: str) -> Dataset:
        data = self.run(self.context.read_dicom(public_id))
        return pydicom.dcmread(io.BytesIO(data))

    def on_move(self, event: evt.Event) -> Iterator[Any]:
        if not self._allowed(event, "Move"):
            yield None, None
            return
        destination = (
            str(event.move_destination, "ascii").strip()
            if isinstance(event.move_destination, bytes)
            else str(event.move_destination).strip()
        )
        targets = self.run(self.registry.find_by_aet(destination))
        if not targets:
            logger.error("C-MOVE: unknown destination AET %s", destination)
            yield None, None
            return
        target = targets[0]
        try:
            ids = self.run(self._instances(event.identifier))
            pairs = self.run(sop_classes_and_syntaxes(self.context, ids)) if ids else []
        except (OrthancError, ValueError) as error:
            logger.error("C-MOVE from %s failed: %s", event.assoc.requestor.ae_title, error)
            yield target.host, target.port
            yield 0
            return
        contexts = _contexts_for(pairs)
        yield target.host, target.port, {"ae_title": target.aet, "contexts": contexts}
        yield len(ids)
        for public_id in ids:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield PENDING, self._read_dataset(public_id)

    def on_get(self, event: evt.Event) -> Iterator[Any]:
        if not self._allowed(event, "Get"):
            yield 0
            return
        try:
            ids = self.run(self._instances(event.identifier))
        except (OrthancError, ValueError) as error:
            logger.error("C-GET from %s failed: %s", event.assoc.requestor.ae_title, error)
            yield 0
            return
        yield len(ids)
        for public_id in ids:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield PENDING, self._read_dataset(public_id)


@dataclass
class FindMatches:
    """What a C-FIND request matched: the values of the requested tags for each answer."""

    level_text: str
    charset: str
    aet: str
    requested: list[int]
    sequences: list[int]
    values: list[dict[int, str]]  # per answer, tag -> text value
    stored_sequences: list[Dataset]  # per answer, the requested sequences as stored (if any)

    def answers(self) -> Iterator[list[tuple[int, str | None]]]:
        """Each answer as (tag, text value) elements, without the sequences."""
        for found in self.values:
            # Orthanc names itself, unless the query asked for RetrieveAETitle: then, like any
            # requested tag, it comes from the stored file (empty).
            elements: dict[int, str | None] = {
                TAG_SPECIFIC_CHARACTER_SET: self.charset,
                TAG_QUERY_RETRIEVE_LEVEL: self.level_text,
                TAG_RETRIEVE_AE_TITLE: self.aet,
            }
            for tag in self.requested:
                elements[tag] = found.get(tag)
            yield list(elements.items())

    def datasets(self) -> Iterator[Dataset]:
        """Each answer as a pydicom dataset, with the requested sequences."""
        stored_sequences = self.stored_sequences or [Dataset()] * len(self.values)
        for elements, stored in zip(self.answers(), stored_sequences, strict=True):
            answer = Dataset()
            for tag, value in elements:
                _set_value(answer, tag, value)
            for tag in self.sequences:
                # A sequence the resource lacks is answered empty (Orthanc 1.12).
                answer.add(stored[tag] if tag in stored else pydicom.DataElement(tag, "SQ", []))
            yield answer


# The file meta header Orthanc 1.12 writes before a received dataset (DCMTK 3.6.9's), so that a
# file received over DICOM is the same, byte for byte, as the one Orthanc would store.
IMPLEMENTATION_CLASS_UID = "1.2.276.0.7230010.3.0.3.6.9"
IMPLEMENTATION_VERSION_NAME = "OFFIS_DCMTK_369"


def received_file_bytes(event: evt.Event) -> bytes:
    """The received C-STORE dataset as a DICOM file, without decoding it: the encoded bytes as
    they came, behind a file meta header built from the request and the presentation context."""
    request = cast(C_STORE, event.request)
    meta = file_meta_bytes(
        str(request.AffectedSOPClassUID),
        str(request.AffectedSOPInstanceUID),
        str(event.context.transfer_syntax),
    )
    dataset = cast(io.BytesIO, request.DataSet)
    return meta + dataset.getvalue()


def file_meta_bytes(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> bytes:
    """Preamble, ``DICM`` and the group 0002 elements, in explicit VR little endian."""

    def element(element_number: int, vr: bytes, value: bytes) -> bytes:
        return struct.pack("<HH2sH", 0x0002, element_number, vr, len(value)) + value

    def uid(text: str) -> bytes:
        raw = text.encode("ascii")
        return raw + b"\0" if len(raw) % 2 else raw

    version_name = IMPLEMENTATION_VERSION_NAME.encode("ascii")
    if len(version_name) % 2:
        version_name += b" "
    body = (
        struct.pack("<HH2sHI", 0x0002, 0x0001, b"OB", 0, 2)
        + b"\0\1"
        + element(0x0002, b"UI", uid(sop_class_uid))
        + element(0x0003, b"UI", uid(sop_instance_uid))
        + element(0x0010, b"UI", uid(transfer_syntax_uid))
        + element(0x0012, b"UI", uid(IMPLEMENTATION_CLASS_UID))
        + element(0x0013, b"SH", version_name)
    )
    group_length = struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body))
    return b"\0" * 128 + b"DICM" + group_length + body


def _contexts_for(pairs: list[tuple[str, str]]) -> list[Any]:
    proposals: dict[str, set[str]] = {}
    for sop_class, syntax in pairs:
        proposals.setdefault(sop_class, {EXPLICIT_LITTLE_ENDIAN, IMPLICIT_LITTLE_ENDIAN}).add(syntax)
    return [build_context(sop, sorted(syntaxes)) for sop, syntaxes in list(proposals.items())[:128]]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin_1").strip("\x00 ")
    return str(value).strip()


def _set_value(answer: Dataset, tag: int, value: str | None) -> None:
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        vr = "LO"
    if vr == "SQ":
        answer.add_new(tag, vr, [])
        return
    if value is None or value == "":
        answer.add_new(tag, vr, None)
        return
    try:
        if vr in ("US", "SS", "UL", "SL"):
            answer.add_new(tag, vr, int(value.split("\\")[0]))
        elif vr in ("FL", "FD"):
            answer.add_new(tag, vr, float(value.split("\\")[0]))
        else:
            answer.add_new(tag, vr, value)
    except (ValueError, TypeError):
        answer.add_new(tag, vr, None)
