"""The few aiosqlite calls the SQLite transactions make, run synchronously on the event loop.

Write transactions are many tiny statements (a store is about a dozen); sending each through a
worker thread costs more than the statement itself and, under load, most of the ingest time goes to
thread hand-offs. The writer connection therefore runs inline: each statement takes microseconds,
commits do not fsync (WAL, ``synchronous=NORMAL``), and checkpoints — the only slow part — are run
by a background thread (``wal_autocheckpoint`` is off on this connection). Reads, which can be
large, keep going through aiosqlite's thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any


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
    """Awaitable and async context manager, like aiosqlite's: the statement runs immediately."""

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
