"""The folder storage area writes what it is given, byte for byte, directly or through the page cache."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import mmap
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orthanc_py.storage import filesystem
from orthanc_py.storage.filesystem import DIRECT_WRITE_MIN_BYTES, FilesystemStorage

UUID = "0123abcd-0000-4000-8000-000000000000"
BLOCK = 4096


def supports_direct_writes(folder: Path) -> bool:
    try:
        fd = os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
    except OSError:
        return False
    os.close(fd)
    os.unlink(folder / "probe")
    return True


def file_system_type(folder: Path) -> str:
    """The type of the file system holding ``folder`` (the longest matching mount point)."""
    best, kind = "", ""
    resolved = str(folder.resolve())
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and len(point) >= len(
                best
            ):
                best, kind = point, fields[2]
    return kind


def cached_pages(path: str) -> list[bool]:
    """Which pages of the file are in the page cache (``mincore`` on a mapping of it)."""
    size = os.path.getsize(path)
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        try:
            vector = ctypes.create_string_buffer(pages)
            assert libc.mincore(address, size, vector) == 0, os.strerror(ctypes.get_errno())
            return [byte & 1 == 1 for byte in vector.raw]
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)


def write_and_read(storage: FilesystemStorage, content: bytes) -> bytes:
    async def scenario() -> bytes:
        await storage.create(UUID, content, 1)
        return await storage.read(UUID, 1)

    return asyncio.run(scenario())


def test_files_go_to_orthancs_layout(tmp_path: Path) -> None:
    storage = FilesystemStorage(str(tmp_path))
    write_and_read(storage, b"DICM")
    assert (tmp_path / "01" / "23" / UUID).read_bytes() == b"DICM"


@settings(max_examples=40, deadline=None)
@given(
    size=st.one_of(
        st.sampled_from([0, 1, BLOCK - 1, BLOCK, DIRECT_WRITE_MIN_BYTES - 1, DIRECT_WRITE_MIN_BYTES]),
        st.integers(DIRECT_WRITE_MIN_BYTES, 5 * DIRECT_WRITE_MIN_BYTES).map(lambda n: n - n % BLOCK),
        st.integers(0, 5 * DIRECT_WRITE_MIN_BYTES),
    ),
    direct=st.booleans(),
)
def test_any_size_reads_back_identical(
    tmp_path_factory: pytest.TempPathFactory, size: int, direct: bool
) -> None:
    # A small buffer, so that several files are written in several chunks.
    folder = tmp_path_factory.mktemp("storage")
    original = filesystem.DIRECT_BUFFER_BYTES
    filesystem.DIRECT_BUFFER_BYTES = 2 * DIRECT_WRITE_MIN_BYTES
    try:
        content = os.urandom(size)
        storage = FilesystemStorage(str(folder), direct_writes=direct)
        assert write_and_read(storage, content) == content
        assert os.path.getsize(storage.path_of(UUID)) == size
        # Written again over the same name (an overwrite), shorter: nothing of the old one remains.
        assert write_and_read(storage, content[: size // 3]) == content[: size // 3]
    finally:
        filesystem.DIRECT_BUFFER_BYTES = original


def test_large_files_bypass_the_page_cache(tmp_path: Path) -> None:
    if not supports_direct_writes(tmp_path):
        pytest.skip(f"the file system of {tmp_path} refuses O_DIRECT")
    if file_system_type(tmp_path) in ("tmpfs", "ramfs"):
        pytest.skip(f"{tmp_path} is in memory: its files are page-cache pages, written directly or not")
    blocks = DIRECT_WRITE_MIN_BYTES // BLOCK + 3
    content = os.urandom(blocks * BLOCK + 123)
    direct = FilesystemStorage(str(tmp_path / "direct"))
    asyncio.run(direct.create(UUID, content, 1))
    assert direct.direct_writes
    pages = cached_pages(direct.path_of(UUID))
    assert pages[:blocks] == [False] * blocks  # the whole blocks went straight to the disk
    assert pages[blocks]  # the tail, written through the page cache

    buffered = FilesystemStorage(str(tmp_path / "buffered"), direct_writes=False)
    asyncio.run(buffered.create(UUID, content, 1))
    assert cached_pages(buffered.path_of(UUID)) == [True] * (blocks + 1)
    assert Path(direct.path_of(UUID)).read_bytes() == Path(buffered.path_of(UUID)).read_bytes() == content


def test_without_sync_large_files_are_written_through_the_page_cache(tmp_path: Path) -> None:
    """SyncStorageArea false: nothing waits for the disk, as a direct write would."""
    storage = FilesystemStorage(str(tmp_path), fsync=False)
    assert not storage.direct_writes
    content = os.urandom(3 * DIRECT_WRITE_MIN_BYTES + 1)
    assert write_and_read(storage, content) == content
    assert all(cached_pages(storage.path_of(UUID)))


def test_small_files_are_written_through_the_page_cache(tmp_path: Path) -> None:
    storage = FilesystemStorage(str(tmp_path))
    asyncio.run(storage.create(UUID, os.urandom(DIRECT_WRITE_MIN_BYTES - 1), 1))
    assert all(cached_pages(storage.path_of(UUID)))


def test_a_file_system_refusing_direct_writes_at_open_is_written_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As tmpfs did before Linux 6.6, and some FUSE and network file systems still do."""
    real_open = os.open
    opened_direct = 0

    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        nonlocal opened_direct
        if flags & os.O_DIRECT:
            opened_direct += 1
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(filesystem.os, "open", open_)
    storage = FilesystemStorage(str(tmp_path))
    content = os.urandom(3 * DIRECT_WRITE_MIN_BYTES + 5)
    assert write_and_read(storage, content) == content
    assert not storage.direct_writes
    assert write_and_read(storage, content[::-1]) == content[::-1]
    assert opened_direct == 1  # asked once, not for every file


def test_a_refusal_at_the_first_write_falls_back_to_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some file systems accept O_DIRECT at open and refuse it only when written to."""
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if os.O_DIRECT & filesystem.fcntl.fcntl(fd, filesystem.fcntl.F_GETFL):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(filesystem.os, "write", write)
    storage = FilesystemStorage(str(tmp_path))
    content = os.urandom(2 * DIRECT_WRITE_MIN_BYTES + 7)
    assert write_and_read(storage, content) == content
    assert not storage.direct_writes


def test_a_write_error_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    calls = 0

    def write(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:  # after a first chunk has reached the file
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(filesystem, "DIRECT_BUFFER_BYTES", DIRECT_WRITE_MIN_BYTES)
    monkeypatch.setattr(filesystem.os, "write", write)
    storage = FilesystemStorage(str(tmp_path))
    with pytest.raises(Exception, match="No space left"):
        asyncio.run(storage.create(UUID, os.urandom(3 * DIRECT_WRITE_MIN_BYTES), 1))
    assert not os.path.exists(storage.path_of(UUID))


def test_folders_removed_by_a_concurrent_removal_are_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consecutive files share a folder, which a removal beside them deletes once it is empty:
    even between the making of the folders and the opening of the file, or while they are made."""
    real_makedirs = os.makedirs
    calls = 0

    def makedirs_raced(name: str, exist_ok: bool = False) -> None:
        nonlocal calls
        real_makedirs(name, exist_ok=exist_ok)
        if name != str(tmp_path / UUID[0:2] / UUID[2:4]):
            return  # os.makedirs making the first level
        calls += 1
        if calls == 1:  # made, then emptied and removed by another thread before the open
            os.rmdir(name)
            os.rmdir(os.path.dirname(name))
        elif calls == 2:  # the first level removed while the second was being made
            os.rmdir(name)
            os.rmdir(os.path.dirname(name))
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", name)

    monkeypatch.setattr(filesystem.os, "makedirs", makedirs_raced)
    storage = FilesystemStorage(str(tmp_path))
    content = os.urandom(DIRECT_WRITE_MIN_BYTES + 1)
    assert write_and_read(storage, content) == content
    assert calls == 3
