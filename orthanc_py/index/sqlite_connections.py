"""The two kinds of SQLite connections behind the async index interface.

The writer (:class:`InlineConnection`) runs synchronously on the event loop.

Write transactions are many tiny statements (a store is about a dozen); sending each through a
worker thread costs more than the statement itself and, under load, most of the ingest time goes to
thread hand-offs. The writer connection therefore runs inline: each statement takes microseconds,
commits do not fsync (WAL, ``synchronous=NORMAL``), and checkpoints — the only slow part — are run
by a background thread (``wal_autocheckpoint`` is off on this connection). Reads, which can be
large, go through reader threads (:class:`ThreadedConnection`), never blocking the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class _Result:
    """Awaitable and async context manager: the statement has already run when this is built."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = InlineCursor(cursor)

    def __await__(self) -> Any:
        async def cursor() -> InlineCursor:
            return self._cursor

        return cursor().__await__()

    async def __aenter__(self) -> InlineCursor:
        return self._cursor

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Result:
        return _Result(self.connection.execute(sql, parameters))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> InlineCursor:
        return InlineCursor(self.connection.executemany(sql, rows))

    async def executescript(self, script: str) -> None:
        self.connection.executescript(script)

    async def close(self) -> None:
        self.connection.close()


class ThreadedConnection:
    """A reader connection living in its own thread; one hand-off per statement, rows included.

    A general-purpose async wrapper (aiosqlite) needs three hand-offs per query (execute, fetch,
    close), each waking the event loop; a page of resources takes a handful of queries, so one
    hand-off per query halves the latency of lists and finds.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")

    def _run(self, sql: str, parameters: Sequence[Any]) -> tuple[list[Any], int | None, int]:
        cursor = self.connection.execute(sql, parameters)
        return cursor.fetchall(), cursor.lastrowid, cursor.rowcount

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in this connection's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, self.connection)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _PrefetchedResult:
        loop = asyncio.get_running_loop()
        return _PrefetchedResult(loop.run_in_executor(self._executor, self._run, sql, parameters))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        await asyncio.get_running_loop().run_in_executor(
            self._executor, self.connection.executemany, sql, rows
        )

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.connection.close)
        self._executor.shutdown(wait=False)


class _PrefetchedCursor:
    def __init__(self, rows: list[Any], lastrowid: int | None, rowcount: int) -> None:
        self._rows = rows
        self.lastrowid = lastrowid
        self.rowcount = rowcount

    async def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[Any]:
        return self._rows


class _PrefetchedResult:
    def __init__(self, future: asyncio.Future[tuple[list[Any], int | None, int]]) -> None:
        self._future = future

    async def _cursor(self) -> _PrefetchedCursor:
        return _PrefetchedCursor(*await self._future)

    def __await__(self) -> Any:
        return self._cursor().__await__()

    async def __aenter__(self) -> _PrefetchedCursor:
        return await self._cursor()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
