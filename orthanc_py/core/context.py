"""ServerContext: the one place that changes state. Every front end (REST, DICOM, DICOMweb) calls it.

Storing is atomic across the storage area and the index: the attachment's UUID is first recorded as
*pending* in the index, the file is written and fsync'ed, then one index transaction creates the
resources, tags, metadata, attachment and change-log rows and clears the pending mark. A crash at
any point leaves either a complete instance or a pending UUID that start-up recovery removes, so no
orphan file and no half-written row survive. Deletion uses the same pending mark for its files.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from ..config import Settings
from ..index.base import Attachment, Deletion, Index, ResourceRow, Transaction
from ..storage import compression
from ..storage.base import FileContentType, StorageArea
from ..storage.uuids import AttachmentUuids
from .changes import STABLE_CHANGE, ChangeEvent, ChangeFeed, StabilityMonitor, now_iso, run_every
from .enumerations import ChangeType, MetadataType, SeriesStatus, series_status
from .errors import ErrorCode, OrthancError
from .identifiers import ResourceLevel, hash_public_id
from .ingest import MAIN_TAGS_SIGNATURE, ParsedInstance, parse_instance
from .jobs.engine import JobsEngine

logger = logging.getLogger(__name__)

T = TypeVar("T")

COMPRESSION_NONE = 1
COMPRESSION_ZLIB = 2

# Files up to this size are parsed on the event loop (a few hundred microseconds at most).
INLINE_PARSE_BYTES = 32 * 1024

_NEW_CHANGE = {
    ResourceLevel.PATIENT: ChangeType.NEW_PATIENT,
    ResourceLevel.STUDY: ChangeType.NEW_STUDY,
    ResourceLevel.SERIES: ChangeType.NEW_SERIES,
    ResourceLevel.INSTANCE: ChangeType.NEW_INSTANCE,
}


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """Who sent an instance (Orthanc's ``DicomInstanceOrigin``), recorded as instance metadata."""

    origin: str = "Unknown"  # RestApi, DicomProtocol, Plugins, Lua, WebDav
    remote_ip: str | None = None
    remote_aet: str | None = None
    called_aet: str | None = None
    http_username: str | None = None


@dataclass(frozen=True, slots=True)
class StoreResult:
    status: str  # "Success" or "AlreadyStored"
    instance: ParsedInstance

    @property
    def public_ids(self) -> dict[ResourceLevel, str]:
        ids = self.instance.ids
        return {level: ids.public_id(level) for level in ResourceLevel}


class ServerContext:
    def __init__(self, settings: Settings, index: Index, storage: StorageArea) -> None:
        self.settings = settings
        self.index = index
        self.storage = storage
        self.changes = ChangeFeed()
        self.stability = StabilityMonitor(settings.stable_age)
        # CPU-heavy work (parsing, hashing, compression) runs here, off the event loop.
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="orthanc-cpu")
        self._tasks: list[asyncio.Task[None]] = []
        self.attachment_uuids = AttachmentUuids()
        # UUIDs already marked pending in the index, each for a future store (see ``store``).
        self._reserved_uuids: list[str] = []
        # Orthanc's DatabaseServerIdentifier: names this database, the same on every node sharing it.
        self.server_identifier = hash_public_id(os.path.abspath(settings.index_path))
        self.jobs = JobsEngine(self)

    async def start(self, *, recover: bool = True, background: bool = True) -> None:
        """Open the index; ``recover`` removes files left by an interrupted store or delete, which
        only the first process to start may do (others could have stores in flight)."""
        await self.index.open()
        if recover:
            await self._recover_pending_files()
        if background:
            self._tasks.append(asyncio.create_task(run_every(1.0, self._signal_stable_resources)))
            await self.jobs.start(recover=recover)

    async def stop(self) -> None:
        await self.jobs.stop()  # first: running jobs save their position in the index
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        if self._reserved_uuids:  # no file behind them: only their marks to remove
            async with self.index.transaction(write=True) as tx:
                await tx.remove_pending_files(self._reserved_uuids)
            self._reserved_uuids.clear()
        await self.index.close()
        await self.storage.close()
        self.executor.shutdown(wait=True)

    def in_background(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run work that outlives the request that started it; cancelled when the context stops."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)
        return task

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- storing

    async def store(self, data: bytes, origin: RequestOrigin) -> StoreResult:
        # The file's UUID is marked pending before anything is written, so that a crash at any
        # later point leaves nothing behind (start-up recovery removes pending files). Each
        # successful store marks one more UUID for a later store in its own index transaction:
        # a steady ingest then needs one transaction per instance, not two.
        if self._reserved_uuids:
            uuid = self._reserved_uuids.pop()
        else:
            uuid = self.attachment_uuids.new()
            async with self.index.transaction(write=True) as tx:
                await tx.add_pending_files([uuid])
        # Parsing and writing the file (with its fsync) run side by side, so that a store waits
        # for the slower of the two rather than for both. A duplicate is therefore written, then
        # removed when the index says the instance is already there.
        parse = partial(
            parse_instance,
            data,
            _python_encoding(self.settings.default_encoding),
            md5=self.settings.store_md5_for_attachments,
        )
        # The write is handed to its thread first, then a small file is parsed right here: for
        # it, the trip to the CPU pool and back costs more than the parse.
        writing = asyncio.ensure_future(self._write_file(uuid, data))
        parsed: ParsedInstance | BaseException
        written: tuple[int, str | None] | BaseException
        try:
            parsed = await self.run_cpu(parse) if len(data) > INLINE_PARSE_BYTES else parse()
        except BaseException as error:  # the file is removed below, whatever went wrong
            parsed = error
        try:
            written = await writing
        except BaseException as error:
            written = error
        if isinstance(parsed, BaseException):  # first: it tells the client what is wrong
            await self._discard_file(uuid)
            raise parsed
        if isinstance(written, BaseException):
            await self._discard_file(uuid)
            raise written
        stored_size, stored_md5 = written
        attachment = Attachment(
            content_type=FileContentType.DICOM,
            uuid=uuid,
            compressed_size=stored_size,
            uncompressed_size=len(data),
            compression=COMPRESSION_ZLIB if self.settings.storage_compression else COMPRESSION_NONE,
            uncompressed_md5=parsed.md5,
            compressed_md5=stored_md5 or parsed.md5,
        )
        ids = parsed.ids
        try:
            if self.settings.overwrite_instances:
                async with self.index.transaction() as tx:
                    existing = await tx.lookup(ids.instance)
                if existing is not None:
                    await self.delete_resource(ResourceLevel.INSTANCE, ids.instance)
            reserved = self.attachment_uuids.new()
            events, recycled = await self._index_instance(parsed, attachment, origin, reserved)
            self._reserved_uuids.append(reserved)  # committed with the instance
        except BaseException:
            await self._discard_file(uuid)
            raise
        for deletion in recycled:
            await self._finish_deletion(deletion)
        if events is None:  # already stored, or stored meanwhile by another writer
            await self._discard_file(uuid)
            return StoreResult("AlreadyStored", parsed)
        for level in (ResourceLevel.PATIENT, ResourceLevel.STUDY, ResourceLevel.SERIES):
            self.stability.touch(level, ids.public_id(level))
        await self.changes.publish(events)
        return StoreResult("Success", parsed)

    async def _write_file(self, uuid: str, data: bytes) -> tuple[int, str | None]:
        """Write the DICOM file (compressed with ``StorageCompression``); its size and, when
        compressed, the MD5 of what was written."""
        if not self.settings.storage_compression:
            await self.storage.create(uuid, data, FileContentType.DICOM)
            return len(data), None
        content = await self.run_cpu(compression.compress, data)
        await self.storage.create(uuid, content, FileContentType.DICOM)
        md5 = await self.run_cpu(_md5, content) if self.settings.store_md5_for_attachments else None
        return len(content), md5

    async def _index_instance(
        self, parsed: ParsedInstance, attachment: Attachment, origin: RequestOrigin, reserved: str
    ) -> tuple[list[ChangeEvent] | None, list[Deletion]]:
        """Index the instance, and mark ``reserved`` pending for a later store."""
        ids = parsed.ids
        now = now_iso()
        async with self.index.transaction(write=True) as tx:
            await tx.add_pending_files([reserved])
            recycled: list[Deletion] = []
            if self.settings.maximum_patient_count or self.settings.maximum_storage_size:
                if await tx.lookup(ids.instance) is not None:
                    return None, []  # never recycle for an instance that is already there
                recycled = await self._make_room(tx, parsed, attachment.compressed_size)
            created = await tx.create_instance(ids)
            if not created.is_new_instance:  # stored meanwhile by another request or process
                return None, recycled
            if self.settings.maximum_patient_count or self.settings.maximum_storage_size:
                await tx.touch_patient(created.patient_id)  # the recycling order matters only then
            internal = {
                ResourceLevel.PATIENT: created.patient_id,
                ResourceLevel.STUDY: created.study_id,
                ResourceLevel.SERIES: created.series_id,
                ResourceLevel.INSTANCE: created.instance_id,
            }
            tags: list[tuple[int, int, str]] = []
            metadata: list[tuple[int, int, str]] = []
            for level in created.created:
                rid = internal[level]
                tags.extend((rid, tag, value) for tag, value in parsed.main_tags[level].items())
                metadata.append((rid, MetadataType.MAIN_DICOM_TAGS_SIGNATURE, MAIN_TAGS_SIGNATURE[level]))
            for level in (ResourceLevel.PATIENT, ResourceLevel.STUDY, ResourceLevel.SERIES):
                metadata.append((internal[level], MetadataType.LAST_UPDATE, now))
            if ResourceLevel.SERIES in created.created:
                metadata.append((created.series_id, MetadataType.REMOTE_AET, origin.remote_aet or ""))
            metadata.extend(self._instance_metadata(created.instance_id, parsed, origin, now))
            if ResourceLevel.SERIES in created.created:
                expected = _expected_number_of_instances(parsed)
                if expected is not None:
                    metadata.append(
                        (created.series_id, MetadataType.EXPECTED_NUMBER_OF_INSTANCES, str(expected))
                    )
            await tx.set_main_tags(tags)
            await tx.set_metadata(metadata)
            await tx.add_attachment(created.instance_id, attachment)
            await tx.remove_pending_files([attachment.uuid])
            # Orthanc logs the instance first, then the new parents from the bottom up.
            order = [ResourceLevel.INSTANCE]
            order += [
                lvl
                for lvl in (ResourceLevel.SERIES, ResourceLevel.STUDY, ResourceLevel.PATIENT)
                if lvl in created.created
            ]
            events = [ChangeEvent(_NEW_CHANGE[lvl], lvl, ids.public_id(lvl), now) for lvl in order]
            if _expected_number_of_instances(parsed) is not None and await self._completes_series(
                tx, created.series_id
            ):
                events.append(ChangeEvent(ChangeType.COMPLETED_SERIES, ResourceLevel.SERIES, ids.series, now))
            await tx.log_changes([(int(e.change_type), internal[e.level], e.level, now) for e in events])
        return events, recycled

    async def _completes_series(self, tx: Transaction, series_id: int) -> bool:
        """Orthanc logs CompletedSeries when an instance makes its series complete."""
        expected = (await tx.get_metadata([series_id], [MetadataType.EXPECTED_NUMBER_OF_INSTANCES]))[
            series_id
        ]
        text = expected.get(MetadataType.EXPECTED_NUMBER_OF_INSTANCES)
        if text is None:
            return False
        indexes = (await tx.get_children_metadata([series_id], MetadataType.INDEX_IN_SERIES))[series_id]
        return series_status(int(text), indexes) == SeriesStatus.COMPLETE

    async def _make_room(self, tx: Transaction, parsed: ParsedInstance, size: int) -> list[Deletion]:
        """Orthanc's recycling: delete the oldest unprotected patients until the new instance fits
        ``MaximumPatientCount`` and ``MaximumStorageSize``; ``Reject`` mode refuses it instead."""
        s = self.settings
        if not (s.maximum_patient_count or s.maximum_storage_size):
            return []
        patient = await tx.lookup(parsed.ids.patient)
        deletions: list[Deletion] = []
        while True:
            full = bool(
                s.maximum_patient_count
                and patient is None
                and await tx.count_resources(ResourceLevel.PATIENT) >= s.maximum_patient_count
            )
            if not full and s.maximum_storage_size:
                used = (await tx.size_totals(None)).disk_size
                full = used + size > s.maximum_storage_size * 1024 * 1024
            if not full:
                return deletions
            victim = (
                None
                if s.maximum_storage_mode == "Reject"
                else await tx.oldest_recyclable_patient(patient.internal_id if patient else None)
            )
            if victim is None:
                raise OrthancError(ErrorCode.FullStorage)
            logger.info("Recycling the oldest patient to make room for a new instance")
            deletion = await tx.delete_resource(victim)
            await tx.add_pending_files([a.uuid for a in deletion.attachments])
            deletions.append(deletion)

    def _instance_metadata(
        self, instance_id: int, parsed: ParsedInstance, origin: RequestOrigin, now: str
    ) -> list[tuple[int, int, str]]:
        values: dict[MetadataType, str | None] = {
            MetadataType.RECEPTION_DATE: now,
            MetadataType.ORIGIN: origin.origin,
            MetadataType.REMOTE_IP: origin.remote_ip,
            MetadataType.REMOTE_AET: origin.remote_aet or "",
            MetadataType.CALLED_AET: origin.called_aet,
            MetadataType.HTTP_USERNAME: origin.http_username or "",
            MetadataType.TRANSFER_SYNTAX: parsed.transfer_syntax,
            MetadataType.SOP_CLASS_UID: parsed.sop_class_uid or None,
            MetadataType.INDEX_IN_SERIES: _index_in_series(parsed),
            MetadataType.PIXEL_DATA_OFFSET: None
            if parsed.pixel_data_offset is None
            else str(parsed.pixel_data_offset),
        }
        return [(instance_id, int(t), v) for t, v in values.items() if v is not None]

    async def _discard_file(self, uuid: str) -> None:
        try:
            await self.storage.remove(uuid, FileContentType.DICOM)
        finally:
            async with self.index.transaction(write=True) as tx:
                await tx.remove_pending_files([uuid])

    async def _recover_pending_files(self) -> None:
        """Remove files whose store or delete was interrupted (a crash between file and index)."""
        async with self.index.transaction() as tx:
            pending = await tx.list_pending_files()
        if not pending:
            return
        logger.warning("Removing %d file(s) left by an interrupted store or delete", len(pending))
        for uuid in pending:
            await self.storage.remove(uuid, FileContentType.DICOM)
        async with self.index.transaction(write=True) as tx:
            await tx.remove_pending_files(pending)

    # --- reading

    async def lookup(self, level: ResourceLevel, public_id: str) -> ResourceRow:
        """The resource of that level, or OrthancError(UnknownResource) (404) as Orthanc answers."""
        async with self.index.transaction() as tx:
            row = await tx.lookup(public_id)
        if row is None or row.level != level:
            raise OrthancError(ErrorCode.UnknownResource)
        return row

    async def read_attachment(self, attachment: Attachment) -> bytes:
        content = await self.storage.read(attachment.uuid, attachment.content_type)
        if attachment.compression == COMPRESSION_ZLIB:
            return await self.run_cpu(compression.decompress, content)
        return content

    async def read_dicom(self, instance_public_id: str) -> bytes:
        row = await self.lookup(ResourceLevel.INSTANCE, instance_public_id)
        return await self.read_dicom_of(row.internal_id)

    async def read_dicom_of(self, internal_id: int) -> bytes:
        async with self.index.transaction() as tx:
            attachments = (await tx.get_attachments([internal_id]))[internal_id]
        for attachment in attachments:
            if attachment.content_type == FileContentType.DICOM:
                return await self.read_attachment(attachment)
        raise OrthancError(ErrorCode.InexistentFile, "No DICOM file attached to this instance")

    # --- deleting

    async def delete_resource(self, level: ResourceLevel, public_id: str) -> ResourceRow | None:
        """Delete a resource with its descendants and emptied ancestors; returns the remaining ancestor."""
        row = await self.lookup(level, public_id)
        async with self.index.transaction(write=True) as tx:
            deletion = await tx.delete_resource(row.internal_id)
            await tx.add_pending_files([a.uuid for a in deletion.attachments])
        await self._finish_deletion(deletion)
        return deletion.remaining_ancestor

    async def _finish_deletion(self, deletion: Deletion) -> None:
        """After the index committed a deletion: remove the files, then their pending marks."""
        for attachment in deletion.attachments:
            try:
                await self.storage.remove(attachment.uuid, attachment.content_type)
            except Exception:
                logger.exception("Cannot remove file %s from the storage area", attachment.uuid)
        async with self.index.transaction(write=True) as tx:
            await tx.remove_pending_files([a.uuid for a in deletion.attachments])
        now = now_iso()
        for deleted in deletion.deleted:
            self.stability.forget(deleted.public_id)
        await self.changes.publish(
            [ChangeEvent(ChangeType.DELETED, d.level, d.public_id, now) for d in deletion.deleted]
        )

    # --- stability

    async def _signal_stable_resources(self) -> None:
        ready = self.stability.pop_stable()
        if not ready:
            return
        now = now_iso()
        threshold = (datetime.now() - timedelta(seconds=self.settings.stable_age)).strftime("%Y%m%dT%H%M%S")
        events: list[ChangeEvent] = []
        async with self.index.transaction(write=True) as tx:
            rows: list[tuple[int, int, ResourceLevel, str]] = []
            for level, public_id in ready:
                row = await tx.lookup(public_id)
                if row is None:
                    continue
                # Other processes (or nodes) may have received an instance since, or already
                # declared the resource stable: the index, shared by all, decides.
                last = (await tx.get_metadata([row.internal_id], [MetadataType.LAST_UPDATE]))[row.internal_id]
                last_update = last.get(MetadataType.LAST_UPDATE, "")
                if last_update > threshold:
                    self.stability.touch(level, public_id)
                    continue
                change = STABLE_CHANGE[level]
                if await tx.has_change_since(row.internal_id, int(change), last_update):
                    continue
                rows.append((int(change), row.internal_id, level, now))
                events.append(ChangeEvent(change, level, public_id, now))
            await tx.log_changes(rows)
        await self.changes.publish(events)


def _md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def _python_encoding(orthanc_encoding: str) -> str:
    """Orthanc's ``DefaultEncoding`` names → Python codecs (used when a file has no charset)."""
    return _ENCODINGS.get(orthanc_encoding, "latin_1")


_ENCODINGS = {
    "Ascii": "ascii",
    "Utf8": "utf_8",
    "Latin1": "latin_1",
    "Latin2": "iso8859_2",
    "Latin3": "iso8859_3",
    "Latin4": "iso8859_4",
    "Latin5": "iso8859_9",
    "Cyrillic": "iso8859_5",
    "Windows1251": "cp1251",
    "Arabic": "iso8859_6",
    "Greek": "iso8859_7",
    "Hebrew": "iso8859_8",
    "Thai": "iso8859_11",
    "Japanese": "shift_jis",
    "Chinese": "gb18030",
    "Korean": "euc_kr",
    "JapaneseKanji": "iso2022_jp",
    "SimplifiedChinese": "gb2312",
}


def _index_in_series(parsed: ParsedInstance) -> str | None:
    """Orthanc's IndexInSeries metadata: InstanceNumber, else ImageIndex, spaces stripped."""
    tags = parsed.main_tags[ResourceLevel.INSTANCE]
    for tag in (0x00200013, 0x00541330):
        value = tags.get(tag)
        if value is not None:
            return value.strip()
    return None


def _expected_number_of_instances(parsed: ParsedInstance) -> int | None:
    """Orthanc's ComputeExpectedNumberOfInstances, from the series' main tags."""
    tags = parsed.main_tags[ResourceLevel.SERIES]

    def integer(tag: int) -> int | None:
        value = tags.get(tag)
        try:
            return int(value.strip()) if value is not None else None
        except ValueError:
            return None

    cardiac = integer(0x00181090)
    temporal = integer(0x00200105)
    if cardiac is not None and temporal is not None and cardiac > 0 and temporal > 0:
        return cardiac * temporal
    for tag in (0x00540081, 0x00201002, 0x00181090):  # NumberOfSlices, ImagesInAcquisition, Cardiac…
        value = integer(tag)
        if value is not None and value > 0:
            return value
    return None
