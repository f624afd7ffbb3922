"""A failed store leaves neither a file nor an index row behind (fault injection on real backends)."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from orthanc_py.app import build_context
from orthanc_py.config import settings_from_json
from orthanc_py.core.context import RequestOrigin, ServerContext
from orthanc_py.core.errors import OrthancError
from orthanc_py.core.identifiers import ResourceLevel
from orthanc_py.index.sqlite import SQLiteTransaction


def make_instance(patient_id: str = "P1") -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = patient_id
    ds.PatientName = "TEST^ATOMIC"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("index.sqlite")]


async def counts(context: ServerContext) -> tuple[int, list[str]]:
    async with context.index.transaction() as tx:
        return await tx.count_resources(ResourceLevel.INSTANCE), await tx.list_pending_files()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_storage_failure_leaves_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        context = build_context(settings_from_json({"StorageDirectory": str(tmp_path)}))
        await context.start()
        try:
            original = context.storage.create

            async def failing_create(uuid: str, content: bytes, content_type: int) -> None:
                await original(uuid, content[: len(content) // 2], content_type)  # a half-written file…
                raise OSError("disk full")  # …then the failure

            context.storage.create = failing_create  # type: ignore[method-assign]
            with pytest.raises(OSError):
                await context.store(make_instance(), RequestOrigin("RestApi"))
            assert await counts(context) == (0, [])
            assert stored_files(tmp_path) == []
        finally:
            await context.stop()

    run(scenario())


def test_index_failure_removes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        context = build_context(settings_from_json({"StorageDirectory": str(tmp_path)}))
        await context.start()
        try:

            async def failing_add_attachment(self: SQLiteTransaction, *args: object) -> None:
                raise RuntimeError("database went away")

            monkeypatch.setattr(SQLiteTransaction, "add_attachment", failing_add_attachment)
            with pytest.raises(RuntimeError):
                await context.store(make_instance(), RequestOrigin("RestApi"))
            monkeypatch.undo()
            assert await counts(context) == (0, [])
            assert stored_files(tmp_path) == []
            # The rolled-back transaction left no patient, study or series either.
            async with context.index.transaction() as tx:
                assert [await tx.count_resources(level) for level in ResourceLevel] == [0, 0, 0, 0]
        finally:
            await context.stop()

    run(scenario())


def test_pending_files_are_removed_at_start(tmp_path: Path) -> None:
    """A crash between the file write and the index commit leaves a pending mark: start-up cleans it."""

    async def scenario() -> None:
        settings = settings_from_json({"StorageDirectory": str(tmp_path)})
        context = build_context(settings)
        await context.start()
        async with context.index.transaction(write=True) as tx:
            await tx.add_pending_files(["0123abcd-orphan"])
        await context.storage.create("0123abcd-orphan", b"half", 1)
        await context.stop()
        assert len(stored_files(tmp_path)) == 1

        context = build_context(settings)
        await context.start()
        try:
            assert await counts(context) == (0, [])
            assert stored_files(tmp_path) == []
        finally:
            await context.stop()

    run(scenario())


def test_refused_file_leaves_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        context = build_context(settings_from_json({"StorageDirectory": str(tmp_path)}))
        await context.start()
        try:
            with pytest.raises(OrthancError) as error:
                await context.store(b"not a DICOM file at all", RequestOrigin("RestApi"))
            assert error.value.http_status == 400
            assert await counts(context) == (0, [])
            assert stored_files(tmp_path) == []
        finally:
            await context.stop()

    run(scenario())


def test_stored_file_is_byte_identical_and_fsynced_layout(tmp_path: Path) -> None:
    async def scenario() -> None:
        context = build_context(settings_from_json({"StorageDirectory": str(tmp_path)}))
        await context.start()
        try:
            data = make_instance()
            result = await context.store(data, RequestOrigin("RestApi"))
            assert result.status == "Success"
            assert await context.read_dicom(result.public_ids[ResourceLevel.INSTANCE]) == data
            files = stored_files(tmp_path)
            assert len(files) == 1
            # Orthanc's layout: StorageDirectory/xx/yy/<uuid>
            name = files[0].name
            assert files[0].parent.name == name[2:4] and files[0].parent.parent.name == name[0:2]
            assert not any(p.suffix == ".tmp" for p in tmp_path.rglob("*"))
            assert os.path.getsize(files[0]) == len(data)
        finally:
            await context.stop()

    run(scenario())


def test_a_steady_ingest_takes_one_index_transaction_per_instance(tmp_path: Path) -> None:
    """Each store marks the UUID of a later one pending in its own transaction; nothing is left
    marked once the server stops, and a failed store after a successful one leaves nothing."""

    async def scenario() -> None:
        settings = settings_from_json({"StorageDirectory": str(tmp_path)})
        context = build_context(settings)
        await context.start()
        writes: list[bool] = []
        transaction = context.index.transaction

        def counted(*, write: bool = False):  # type: ignore[no-untyped-def]
            writes.append(write)
            return transaction(write=write)

        context.index.transaction = counted  # type: ignore[method-assign]
        try:
            for n in range(5):
                result = await context.store(make_instance(f"P{n}"), RequestOrigin("RestApi"))
                assert result.status == "Success"
            assert writes.count(True) == 1 + 5  # the first store marks its own UUID
            instances, pending = await counts(context)
            assert instances == 5 and len(pending) == 1  # the next store's UUID
            assert len(stored_files(tmp_path)) == 5

            original = context.storage.create

            async def failing_create(uuid: str, content: bytes, content_type: int) -> None:
                await original(uuid, content[:100], content_type)
                raise OSError("disk full")

            context.storage.create = failing_create  # type: ignore[method-assign]
            with pytest.raises(OSError):
                await context.store(make_instance("P9"), RequestOrigin("RestApi"))
            context.storage.create = original  # type: ignore[method-assign]
            assert await counts(context) == (5, [])
            assert len(stored_files(tmp_path)) == 5

            await context.store(make_instance("P10"), RequestOrigin("RestApi"))
        finally:
            await context.stop()
        context = build_context(settings)
        await context.index.open()  # no start-up recovery: what the stop left
        try:
            async with context.index.transaction() as tx:
                assert await tx.list_pending_files() == []
        finally:
            await context.index.close()

    run(scenario())
