"""Storage area in a folder, laid out as Orthanc's ``FilesystemStorage``: ``xx/yy/<uuid>``.

A file is written under its final name and flushed with ``fdatasync`` before ``create`` returns, as
Orthanc's ``SyncStorageArea`` does: an acknowledged file survives a crash of the process or of the
machine. No temporary name and rename are needed (they cost a second metadata update per file):
the index marks the UUID pending before the write and names it only once the file is complete, so
no reader can meet a partial file, and start-up recovery removes the pending ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from ..core.errors import ErrorCode, OrthancError

logger = logging.getLogger(__name__)


class FilesystemStorage:
    def __init__(self, root: str, *, fsync: bool = True, executor: ThreadPoolExecutor | None = None) -> None:
        self.root = os.path.abspath(root)
        self.fsync = fsync
        self._executor = executor
        os.makedirs(self.root, exist_ok=True)

    def path_of(self, uuid: str) -> str:
        if len(uuid) < 4 or "/" in uuid or uuid.startswith("."):
            raise OrthancError(ErrorCode.ParameterOutOfRange, f"Bad attachment UUID: {uuid}")
        return os.path.join(self.root, uuid[0:2], uuid[2:4], uuid)

    async def _run(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def create(self, uuid: str, content: bytes, content_type: int) -> None:
        await self._run(self._create_sync, uuid, content)

    def _create_sync(self, uuid: str, content: bytes) -> None:
        path = self.path_of(uuid)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            try:
                fd = os.open(path, flags, 0o644)
            except FileNotFoundError:
                # The xx/yy folders are made on first use only (a removal may also have just
                # deleted them, emptied): cheaper than checking them before every write.
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = os.open(path, flags, 0o644)
            try:
                view = memoryview(content)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if self.fsync:
                    os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            try:
                os.unlink(path)
            except OSError:
                pass
            raise OrthancError(ErrorCode.CannotWriteFile, f"Cannot write {path}: {error}") from error

    async def read(self, uuid: str, content_type: int) -> bytes:
        return await self._run(self._read_sync, uuid, None, None)  # type: ignore[no-any-return]

    async def read_range(self, uuid: str, content_type: int, start: int, end: int) -> bytes:
        return await self._run(self._read_sync, uuid, start, end)  # type: ignore[no-any-return]

    def _read_sync(self, uuid: str, start: int | None, end: int | None) -> bytes:
        path = self.path_of(uuid)
        try:
            with open(path, "rb") as f:
                if start is None or end is None:
                    return f.read()
                f.seek(start)
                return f.read(max(0, end - start))
        except FileNotFoundError as error:
            raise OrthancError(
                ErrorCode.InexistentFile, f"Missing file in the storage area: {path}"
            ) from error

    async def remove(self, uuid: str, content_type: int) -> None:
        await self._run(self._remove_sync, uuid)

    def _remove_sync(self, uuid: str) -> None:
        path = self.path_of(uuid)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        # Orthanc removes the two levels of folders once they are empty.
        for folder in (os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
            try:
                os.rmdir(folder)
            except OSError:
                break

    async def close(self) -> None:
        return None
