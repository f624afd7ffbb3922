"""The built-in SQLite index (WAL).

SQLite allows one writer at a time: write transactions share one connection under an asyncio lock
(``BEGIN IMMEDIATE``), read transactions use a second connection that sees the last committed state.
WAL with ``synchronous=NORMAL`` keeps every committed transaction across a crash of the process.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import orjson

from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import InstanceIdentifiers, ResourceLevel
from ..core.matching import normalize_for_search as normalize_value
from .base import (
    Attachment,
    Change,
    CreatedInstance,
    Deletion,
    LabelFilter,
    ResourceRow,
    SizeTotals,
    TagFilter,
)
from .sqlite_connections import InlineConnection, ThreadedConnection
from .sqlite_jobs import SQLiteJobsStatements
from .sqlite_storage_commitment import SQLiteStorageCommitmentStatements

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
# SQLite readers run in parallel (the sqlite3 module releases the GIL while a statement runs).
_READERS = 2
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-16384",  # 16 MiB per connection; four connections per process
)
_PROPERTY_SCHEMA_VERSION = 1
# Checkpoints: how often, and past how many WAL frames (pages) the WAL is to be started over.
_CHECKPOINT_INTERVAL = 0.25
_WAL_RESTART_FRAMES = 1000
# SQLite caps bound parameters (32766 since 3.32); stay well under it.
_CHUNK = 900


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SQLiteIndex:
    def __init__(self, path: str, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._writer: InlineConnection | None = None
        self._reader: ThreadedConnection | None = None
        self._readers: list[ThreadedConnection] = []
        self._inline_reader: InlineConnection | None = None
        self._lock_file: int | None = None
        self._next_reader = 0
        self._checkpoints: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()

    @property
    def database_version(self) -> int:
        return SCHEMA_VERSION

    def _connect_reader(self) -> ThreadedConnection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        return ThreadedConnection(conn)

    def _connect_inline(self) -> InlineConnection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in the background (below)
        return InlineConnection(conn)

    async def open(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._lock_file = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        self._writer = self._connect_inline()
        await self._migrate(self._writer)
        self._readers = [self._connect_reader() for _ in range(_READERS)]
        self._inline_reader = self._connect_inline()
        self._reader = self._readers[0]
        self._checkpoints = asyncio.create_task(self._checkpoint_periodically())

    async def _checkpoint_periodically(self) -> None:
        """Copy the WAL back into the database from the reader's thread, off the event loop."""
        while True:
            await asyncio.sleep(_CHECKPOINT_INTERVAL)
            try:
                if self._reader is not None:
                    await self._reader.run(self._checkpoint)
            except Exception:  # a busy database just means: next time
                logger.debug("WAL checkpoint postponed", exc_info=True)

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        """Backfill the WAL, and let the next write start it over once it has grown.

        SQLite writes the WAL from its start again only after a checkpoint has copied all of it,
        which never happens while writers keep appending: under a steady ingest the file would
        grow without end (a quarter of a gigabyte per 2,000 instances), every write extending it.
        So a first pass copies what is there without stopping anyone; if the WAL is large by
        then, a second pass holds the writers' lock while it copies the little appended since.
        """
        _busy, frames, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames < _WAL_RESTART_FRAMES:  # (what it copied says nothing of what writers added since)
            return
        lock = os.open(self.path + ".lock", os.O_RDWR)  # its own lock, apart from this process's writer
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            os.close(lock)  # releases the lock

    async def _migrate(self, conn: InlineConnection) -> None:
        async with conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='global_properties'"
        ) as cursor:
            exists = await cursor.fetchone() is not None
        version = 0
        if exists:
            async with conn.execute(
                "SELECT value FROM global_properties WHERE property=?", (_PROPERTY_SCHEMA_VERSION,)
            ) as cursor:
                row = await cursor.fetchone()
                version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise OrthancError(
                ErrorCode.IncompatibleDatabaseVersion,
                f"The index {self.path} has schema version {version}, "
                f"newer than this orthanc_py ({SCHEMA_VERSION})",
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            script = resources.files("orthanc_py.index.schema").joinpath(f"sqlite-{step}.sql").read_text()
            logger.info("Upgrading the SQLite index %s to schema version %d", self.path, step)
            await conn.executescript(
                "BEGIN;\n" + script + f"\nINSERT OR REPLACE INTO global_properties VALUES "
                f"({_PROPERTY_SCHEMA_VERSION}, '{step}');\nCOMMIT;"
            )

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            try:
                await self._checkpoints
            except asyncio.CancelledError:
                pass
            self._checkpoints = None
        if self._reader is not None:
            await self._reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for reader in self._readers:
            await reader.close()
        self._readers = []
        if self._inline_reader is not None:
            await self._inline_reader.close()
            self._inline_reader = None
        if self._writer is not None:
            await self._writer.close()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
        self._reader = None
        self._writer = None

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[SQLiteTransaction]:
        if write:
            if self.read_only:
                raise OrthancError(
                    ErrorCode.ReadOnly,
                    'The index is read-only ("ReadOnly" configuration option)',
                    http_status=403,
                )
            assert self._writer is not None
            async with self._write_lock:
                conn = self._writer
                # Between processes, an flock hands the write lock over as soon as it is released;
                # SQLite's own busy handler would poll with sleeps of several milliseconds.
                assert self._lock_file is not None
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield SQLiteTransaction(conn)
                    except BaseException:
                        await conn.execute("ROLLBACK")
                        raise
                    else:
                        await conn.execute("COMMIT")
                finally:
                    fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        else:
            assert self._readers and self._inline_reader is not None
            # Reads run in autocommit; a single statement always sees one committed snapshot.
            self._next_reader = (self._next_reader + 1) % len(self._readers)
            yield SQLiteTransaction(self._inline_reader, self._readers[self._next_reader])


_LEVELS = tuple(ResourceLevel)


def _row(r: Sequence[Any]) -> ResourceRow:
    return ResourceRow(r[0], _LEVELS[r[1]], r[2], r[3])


_RESOURCE_COLUMNS = "internal_id, level, public_id, parent_id"


# Reads expected to return at most this many rows run inline on the event loop (microseconds);
# larger ones go to a reader thread so that a big listing never stalls other requests.
_INLINE_ROWS = 2000


class SQLiteTransaction(SQLiteJobsStatements, SQLiteStorageCommitmentStatements):  # sqlite_jobs.py, ...
    def __init__(self, conn: InlineConnection, bulk: ThreadedConnection | None = None) -> None:
        self.conn = conn
        self.bulk = bulk

    async def _all(self, sql: str, params: Sequence[Any] = (), *, rows: int = 1) -> list[Any]:
        """Run a query; ``rows`` is how many rows it may return, which decides where it runs."""
        conn: InlineConnection | ThreadedConnection = self.conn
        if self.bulk is not None and (rows == 0 or rows > _INLINE_ROWS):
            conn = self.bulk
        async with conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self.conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    # --- resources
    async def lookup(self, public_id: str) -> ResourceRow | None:
        r = await self._one(f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE public_id=?", (public_id,))
        return _row(r) if r else None

    async def get_resources(self, internal_ids: list[int]) -> list[ResourceRow]:
        rows: list[ResourceRow] = []
        for chunk in _chunks(internal_ids):
            rows.extend(
                _row(r)
                for r in await self._all(
                    f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE internal_id IN ({_marks(len(chunk))})",
                    chunk,
                    rows=len(chunk),
                )
            )
        return rows

    async def list_resources(self, level: ResourceLevel, since: int = 0, limit: int = 0) -> list[ResourceRow]:
        sql = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE level=? ORDER BY public_id"
        params: list[Any] = [int(level)]
        if limit or since:
            sql += " LIMIT ? OFFSET ?"
            params += [limit if limit else -1, since]
        return [_row(r) for r in await self._all(sql, params, rows=limit)]

    async def list_public_ids(self, level: ResourceLevel, since: int = 0, limit: int = 0) -> list[str]:
        sql = "SELECT public_id FROM resources WHERE level=? ORDER BY public_id"
        params: list[Any] = [int(level)]
        if limit or since:
            sql += " LIMIT ? OFFSET ?"
            params += [limit if limit else -1, since]
        return [r[0] for r in await self._all(sql, params, rows=limit)]

    async def count_resources(self, level: ResourceLevel) -> int:
        r = await self._one("SELECT value FROM global_counters WHERE name=?", (f"resources_{int(level)}",))
        return int(r[0])

    async def get_children(self, parent_ids: list[int]) -> list[ResourceRow]:
        rows: list[ResourceRow] = []
        for chunk in _chunks(parent_ids):
            rows.extend(
                _row(r)
                for r in await self._all(
                    f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE parent_id IN ({_marks(len(chunk))}) "
                    "ORDER BY public_id",
                    chunk,
                    rows=20 * len(chunk),
                )
            )
        return rows

    async def count_descendants(self, ids: list[int], depth: int) -> dict[int, int]:
        """For each id, how many resources there are ``depth`` levels below it (1: children)."""
        joins = "".join(
            f" JOIN resources d{k} ON d{k}.parent_id = d{k - 1}.internal_id" for k in range(2, depth + 1)
        )
        counts = {i: 0 for i in ids}
        for chunk in _chunks(ids):
            for owner, count in await self._all(
                f"SELECT d1.parent_id, COUNT(*) FROM resources d1{joins} "
                f"WHERE d1.parent_id IN ({_marks(len(chunk))}) GROUP BY d1.parent_id",
                chunk,
                rows=len(chunk),
            ):
                counts[owner] = count
        return counts

    async def get_child_public_ids(self, parent_ids: list[int]) -> dict[int, list[str]]:
        """The public IDs of the children of each parent, in public-ID order (lighter than rows)."""
        result: dict[int, list[str]] = {i: [] for i in parent_ids}
        for chunk in _chunks(parent_ids):
            for parent, public_id in await self._all(
                f"SELECT parent_id, public_id FROM resources WHERE parent_id IN ({_marks(len(chunk))}) "
                "ORDER BY public_id",
                chunk,
                rows=20 * len(chunk),
            ):
                result[parent].append(public_id)
        return result

    async def get_children_metadata(
        self, parent_ids: list[int], metadata_type: int
    ) -> dict[int, list[str | None]]:
        """One metadata of every child of each parent (None where absent): Orthanc's
        GetChildrenMetadata, used for the status of series."""
        result: dict[int, list[str | None]] = {i: [] for i in parent_ids}
        for chunk in _chunks(parent_ids):
            for parent, value in await self._all(
                "SELECT r.parent_id, m.value FROM resources r LEFT JOIN metadata m "
                "ON m.internal_id = r.internal_id AND m.type = ? "
                f"WHERE r.parent_id IN ({_marks(len(chunk))})",
                [metadata_type, *chunk],
                rows=20 * len(chunk),
            ):
                result[parent].append(value)
        return result

    async def _lookup_or_create(
        self, public_id: str, level: ResourceLevel, parent_id: int | None, created: list[ResourceLevel]
    ) -> int:
        if level is not ResourceLevel.INSTANCE:  # the instance was looked up by the caller
            r = await self._one("SELECT internal_id FROM resources WHERE public_id=?", (public_id,))
            if r is not None:
                return int(r[0])
        cursor = await self.conn.execute(
            "INSERT INTO resources (level, public_id, parent_id) VALUES (?, ?, ?)",
            (int(level), public_id, parent_id),
        )
        created.append(level)
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    async def create_instance(self, ids: InstanceIdentifiers) -> CreatedInstance:
        r = await self._one(
            "SELECT i.internal_id, s.internal_id, st.internal_id, st.parent_id FROM resources i "
            "JOIN resources s ON s.internal_id = i.parent_id "
            "JOIN resources st ON st.internal_id = s.parent_id WHERE i.public_id=?",
            (ids.instance,),
        )
        if r is not None:
            return CreatedInstance(False, r[0], r[1], r[2], r[3])
        created: list[ResourceLevel] = []
        # Most instances join an existing series: one query finds it with its study and patient.
        r = await self._one(
            "SELECT s.internal_id, st.internal_id, st.parent_id FROM resources s "
            "JOIN resources st ON st.internal_id = s.parent_id WHERE s.public_id=?",
            (ids.series,),
        )
        if r is not None:
            instance = await self._lookup_or_create(ids.instance, ResourceLevel.INSTANCE, r[0], created)
            return CreatedInstance(True, instance, r[0], r[1], r[2], created)
        patient = await self._lookup_or_create(ids.patient, ResourceLevel.PATIENT, None, created)
        study = await self._lookup_or_create(ids.study, ResourceLevel.STUDY, patient, created)
        series = await self._lookup_or_create(ids.series, ResourceLevel.SERIES, study, created)
        instance = await self._lookup_or_create(ids.instance, ResourceLevel.INSTANCE, series, created)
        return CreatedInstance(True, instance, series, study, patient, created)

    async def delete_resource(self, internal_id: int) -> Deletion:
        target = await self.get_resources([internal_id])
        if not target:
            raise OrthancError(ErrorCode.UnknownResource)
        # Every descendant, level by level (at most three queries).
        deleted = list(target)
        frontier = [internal_id]
        while frontier:
            children = await self.get_children(frontier)
            deleted.extend(children)
            frontier = [c.internal_id for c in children]
        attachments = [
            a
            for rows in (await self.get_attachments([d.internal_id for d in deleted])).values()
            for a in rows
        ]
        await self.conn.execute("DELETE FROM resources WHERE internal_id=?", (internal_id,))
        # Orthanc removes the ancestors left without children.
        remaining: ResourceRow | None = None
        parent_id = target[0].parent_id
        while parent_id is not None:
            parent = (await self.get_resources([parent_id]))[0]
            r = await self._one("SELECT 1 FROM resources WHERE parent_id=? LIMIT 1", (parent_id,))
            if r is not None:
                remaining = parent
                break
            attachments.extend(a for rows in (await self.get_attachments([parent_id])).values() for a in rows)
            await self.conn.execute("DELETE FROM resources WHERE internal_id=?", (parent_id,))
            deleted.append(parent)
            parent_id = parent.parent_id
        return Deletion(attachments, deleted, remaining)

    async def lookup_identifier(self, level: ResourceLevel, tag: int, value: str) -> list[ResourceRow]:
        rows = await self._all(
            # CROSS JOIN: the tag's value first; otherwise SQLite may walk every resource of the
            # level in public_id order (resources_level) to avoid sorting the one or two matches.
            "SELECT r.internal_id, r.level, r.public_id, r.parent_id FROM main_dicom_tags t "
            "CROSS JOIN resources r ON r.internal_id = t.internal_id "
            "WHERE t.tag=? AND t.value=? AND r.level=? ORDER BY r.public_id",
            (tag, value, int(level)),
        )
        return [_row(r) for r in rows]

    async def find(
        self,
        level: ResourceLevel,
        filters: list[TagFilter],
        since: int = 0,
        limit: int = 0,
        labels: LabelFilter | None = None,
    ) -> list[ResourceRow]:
        # Join the ancestors that hold constrained tags: a<k> is the ancestor at level k.
        joins: list[str] = []
        alias = {int(level): "r"}
        for k in range(int(level) - 1, -1, -1):
            if any(f.level <= k for f in filters):
                alias[k] = f"a{k}"
                joins.append(f"JOIN resources a{k} ON a{k}.internal_id = {alias[k + 1]}.parent_id")
            else:
                break
        # With a constraint on the resource's own tags, SQLite must start from the tag index; the
        # unary "+" keeps it from scanning the whole level in public-ID order instead.
        own_filter = any(int(f.level) == int(level) for f in filters)
        where = ["+r.level = ?" if own_filter else "r.level = ?"]
        params: list[Any] = [int(level)]
        for f in filters:
            holder = alias[int(f.level)]
            predicate, args = _predicate(f)
            # An IN subquery lets SQLite start from the (tag, value) index rather than scan the level.
            where.append(
                f"{holder}.internal_id IN (SELECT t.internal_id FROM main_dicom_tags t "
                f"WHERE t.tag = ? AND {predicate})"
            )
            params.append(f.tag)
            params.extend(args)
        if labels is not None and labels.labels:
            marks = _marks(len(labels.labels))
            count = (
                "(SELECT COUNT(*) FROM labels l "
                f"WHERE l.internal_id = r.internal_id AND l.label IN ({marks}))"
            )
            if labels.constraint == "All":
                where.append(f"{count} = ?")
                params.extend([*labels.labels, len(set(labels.labels))])
            elif labels.constraint == "Any":
                where.append(f"{count} > 0")
                params.extend(labels.labels)
            else:
                where.append(f"{count} = 0")
                params.extend(labels.labels)
        sql = (
            f"SELECT r.internal_id, r.level, r.public_id, r.parent_id FROM resources r {' '.join(joins)} "
            f"WHERE {' AND '.join(where)} ORDER BY r.public_id"
        )
        if limit or since:
            sql += " LIMIT ? OFFSET ?"
            params += [limit if limit else -1, since]
        return [_row(r) for r in await self._all(sql, params, rows=limit)]

    # --- main DICOM tags
    async def set_main_tags(self, rows: list[tuple[int, int, str]]) -> None:
        await self.conn.executemany(
            "INSERT INTO main_dicom_tags (internal_id, tag, value, normalized) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (internal_id, tag) "
            "DO UPDATE SET value=excluded.value, normalized=excluded.normalized",
            [(i, t, v, normalize_value(v)) for i, t, v in rows],
        )
        await self.conn.executemany(
            "UPDATE resources SET main_tags = (SELECT json_group_array(json_array(tag, value)) "
            "FROM main_dicom_tags WHERE internal_id = ?) WHERE internal_id = ?",
            [(i, i) for i in sorted({r[0] for r in rows})],
        )

    async def get_main_tags(
        self, internal_ids: list[int], tags: list[int] | None = None
    ) -> dict[int, dict[int, str]]:
        result: dict[int, dict[int, str]] = {i: {} for i in internal_ids}
        if not tags:
            # All the tags: from the per-resource JSON copy, one row per resource.
            for chunk in _chunks(internal_ids):
                for i, blob in await self._all(
                    "SELECT internal_id, main_tags FROM resources "
                    f"WHERE internal_id IN ({_marks(len(chunk))}) AND main_tags IS NOT NULL",
                    chunk,
                    rows=len(chunk),
                ):
                    result[i] = dict(orjson.loads(blob))
            return result
        tag_clause = f" AND tag IN ({','.join(str(int(t)) for t in tags)})"
        for chunk in _chunks(internal_ids):
            for i, tag, value in await self._all(
                "SELECT internal_id, tag, value FROM main_dicom_tags "
                f"WHERE internal_id IN ({_marks(len(chunk))})" + tag_clause,
                chunk,
                rows=len(chunk) * len(tags),
            ):
                result[i][tag] = value
        return result

    # --- metadata
    async def set_metadata(self, rows: list[tuple[int, int, str]]) -> None:
        await self.conn.executemany(
            "INSERT INTO metadata (internal_id, type, value) VALUES (?, ?, ?) "
            "ON CONFLICT (internal_id, type) DO UPDATE SET value=excluded.value",
            rows,
        )

    async def delete_metadata(self, internal_id: int, metadata_type: int) -> bool:
        cursor = await self.conn.execute(
            "DELETE FROM metadata WHERE internal_id=? AND type=?", (internal_id, metadata_type)
        )
        return cursor.rowcount > 0

    async def get_metadata(
        self, internal_ids: list[int], types: list[int] | None = None
    ) -> dict[int, dict[int, str]]:
        result: dict[int, dict[int, str]] = {i: {} for i in internal_ids}
        type_clause = f" AND type IN ({','.join(str(int(t)) for t in types)})" if types else ""
        for chunk in _chunks(internal_ids):
            for i, t, value in await self._all(
                f"SELECT internal_id, type, value FROM metadata WHERE internal_id IN ({_marks(len(chunk))})"
                + type_clause,
                chunk,
                rows=len(chunk) * (len(types) if types else 10),
            ):
                result[i][t] = value
        return result

    # --- attachments
    async def add_attachment(self, internal_id: int, a: Attachment) -> None:
        await self.conn.execute(
            "INSERT INTO attached_files (internal_id, content_type, uuid, compressed_size, "
            "uncompressed_size, "
            "compression, uncompressed_md5, compressed_md5, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                internal_id,
                a.content_type,
                a.uuid,
                a.compressed_size,
                a.uncompressed_size,
                a.compression,
                a.uncompressed_md5,
                a.compressed_md5,
                a.revision,
            ),
        )

    async def get_attachments(self, internal_ids: list[int]) -> dict[int, list[Attachment]]:
        result: dict[int, list[Attachment]] = {i: [] for i in internal_ids}
        for chunk in _chunks(internal_ids):
            for r in await self._all(
                "SELECT internal_id, content_type, uuid, compressed_size, uncompressed_size, compression, "
                "uncompressed_md5, compressed_md5, revision FROM attached_files "
                f"WHERE internal_id IN ({_marks(len(chunk))}) ORDER BY content_type",
                chunk,
                rows=len(chunk),
            ):
                result[r[0]].append(Attachment(*r[1:]))
        return result

    async def size_totals(self, internal_ids: list[int] | None) -> SizeTotals:
        select = (
            "SELECT COALESCE(SUM(compressed_size),0), COALESCE(SUM(uncompressed_size),0), "
            "COALESCE(SUM(CASE WHEN content_type=1 THEN compressed_size ELSE 0 END),0), "
            "COALESCE(SUM(CASE WHEN content_type=1 THEN uncompressed_size ELSE 0 END),0) FROM attached_files"
        )
        if internal_ids is None:
            counters = dict(await self._all("SELECT name, value FROM global_counters", rows=8))
            return SizeTotals(
                counters["compressed_size"],
                counters["uncompressed_size"],
                counters["dicom_compressed_size"],
                counters["dicom_uncompressed_size"],
            )
        totals = [0, 0, 0, 0]
        for chunk in _chunks(internal_ids):
            r = await self._one(select + f" WHERE internal_id IN ({_marks(len(chunk))})", chunk)
            totals = [a + int(b) for a, b in zip(totals, r, strict=True)]
        return SizeTotals(*totals)

    # --- change log
    async def log_changes(self, rows: list[tuple[int, int, ResourceLevel, str]]) -> None:
        await self.conn.executemany(
            "INSERT INTO changes (change_type, internal_id, level, date) VALUES (?, ?, ?, ?)",
            [(c, i, int(lvl), d) for c, i, lvl, d in rows],
        )

    _CHANGE_SELECT = (
        "SELECT c.seq, c.change_type, c.level, r.public_id, c.date FROM changes c "
        "JOIN resources r ON r.internal_id = c.internal_id"
    )

    async def get_changes(self, since: int, limit: int) -> tuple[list[Change], bool, int]:
        rows = await self._all(
            self._CHANGE_SELECT + " WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
            (since, limit + 1),
            rows=limit + 1,
        )
        done = len(rows) <= limit
        if limit == 0:
            done = not rows
        changes = [Change(r[0], r[1], ResourceLevel(r[2]), r[3], r[4]) for r in rows[:limit]]
        last = changes[-1].seq if changes else since
        return changes, done, last

    async def get_last_change(self) -> Change | None:
        r = await self._one(self._CHANGE_SELECT + " ORDER BY c.seq DESC LIMIT 1")
        return Change(r[0], r[1], ResourceLevel(r[2]), r[3], r[4]) if r else None

    async def has_change_since(self, internal_id: int, change_type: int, date: str) -> bool:
        r = await self._one(
            "SELECT 1 FROM changes WHERE internal_id=? AND change_type=? AND date>=? LIMIT 1",
            (internal_id, change_type, date),
        )
        return r is not None

    async def get_last_change_seq(self) -> int:
        # The last number handed out, even if its change was cleared or cascaded away.
        r = await self._one("SELECT seq FROM sqlite_sequence WHERE name='changes'")
        return int(r[0]) if r else 0

    async def clear_changes(self) -> None:
        await self.conn.execute("DELETE FROM changes")

    # --- protection
    async def is_protected(self, patient_id: int) -> bool:
        return (
            await self._one("SELECT 1 FROM protected_patients WHERE internal_id=?", (patient_id,)) is not None
        )

    async def set_protected(self, patient_id: int, protected: bool) -> None:
        if protected:
            await self.conn.execute(
                "INSERT INTO protected_patients (internal_id) VALUES (?) ON CONFLICT DO NOTHING",
                (patient_id,),
            )
        else:
            await self.conn.execute("DELETE FROM protected_patients WHERE internal_id=?", (patient_id,))

    async def touch_patient(self, patient_id: int) -> None:
        await self.conn.execute("DELETE FROM patient_recycling_order WHERE patient_id=?", (patient_id,))
        await self.conn.execute("INSERT INTO patient_recycling_order (patient_id) VALUES (?)", (patient_id,))

    async def oldest_recyclable_patient(self, excluded_patient_id: int | None) -> int | None:
        # Patients stored while no limit was configured have no place in the order: oldest first.
        r = await self._one(
            "SELECT r.internal_id FROM resources r "
            "LEFT JOIN patient_recycling_order o ON o.patient_id = r.internal_id "
            "WHERE r.level = 0 AND r.internal_id <> ? AND NOT EXISTS "
            "(SELECT 1 FROM protected_patients p WHERE p.internal_id = r.internal_id) "
            "ORDER BY o.seq IS NOT NULL, o.seq, r.internal_id LIMIT 1",
            (excluded_patient_id if excluded_patient_id is not None else -1,),
        )
        return int(r[0]) if r else None

    # --- labels
    async def add_label(self, internal_id: int, label: str) -> None:
        await self.conn.execute(
            "INSERT INTO labels (internal_id, label) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (internal_id, label),
        )

    async def remove_label(self, internal_id: int, label: str) -> None:
        await self.conn.execute("DELETE FROM labels WHERE internal_id=? AND label=?", (internal_id, label))

    async def get_labels(self, internal_ids: list[int]) -> dict[int, list[str]]:
        result: dict[int, list[str]] = {i: [] for i in internal_ids}
        for chunk in _chunks(internal_ids):
            for i, label in await self._all(
                "SELECT internal_id, label FROM labels "
                f"WHERE internal_id IN ({_marks(len(chunk))}) ORDER BY label",
                chunk,
                rows=len(chunk),
            ):
                result[i].append(label)
        return result

    async def all_labels(self) -> list[str]:
        return [r[0] for r in await self._all("SELECT DISTINCT label FROM labels ORDER BY label", rows=0)]

    # --- pending files
    async def add_pending_files(self, uuids: list[str]) -> None:
        await self.conn.executemany("INSERT INTO pending_files (uuid) VALUES (?)", [(u,) for u in uuids])

    async def remove_pending_files(self, uuids: list[str]) -> None:
        await self.conn.executemany("DELETE FROM pending_files WHERE uuid=?", [(u,) for u in uuids])

    async def list_pending_files(self) -> list[str]:
        return [r[0] for r in await self._all("SELECT uuid FROM pending_files", rows=0)]

    # --- global properties
    async def get_global_property(self, key: int) -> str | None:
        r = await self._one("SELECT value FROM global_properties WHERE property=?", (key,))
        return str(r[0]) if r else None

    async def set_global_property(self, key: int, value: str) -> None:
        await self.conn.execute(
            "INSERT INTO global_properties (property, value) VALUES (?, ?) "
            "ON CONFLICT (property) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    # --- DICOMweb metadata
    async def get_dicomweb_metadata(self, internal_ids: list[int]) -> dict[int, bytes]:
        result: dict[int, bytes] = {}
        for chunk in _chunks(internal_ids):
            for i, data in await self._all(
                "SELECT internal_id, json FROM dicomweb_metadata "
                f"WHERE internal_id IN ({_marks(len(chunk))})",
                chunk,
                rows=len(chunk),
            ):
                result[i] = bytes(data)
        return result

    async def set_dicomweb_metadata(self, rows: list[tuple[int, bytes]]) -> None:
        # An instance deleted meanwhile has no resource row left: it is skipped.
        await self.conn.executemany(
            "INSERT OR REPLACE INTO dicomweb_metadata (internal_id, json) "
            "SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM resources WHERE internal_id=?1)",
            rows,
        )

    async def list_dicomweb_servers(self) -> dict[str, str | None]:
        rows = await self._all("SELECT name, configuration FROM dicomweb_servers", (), rows=0)
        return {str(r[0]): None if r[1] is None else str(r[1]) for r in rows}

    async def set_dicomweb_server(self, name: str, configuration: str | None) -> None:
        await self.conn.execute(
            "INSERT INTO dicomweb_servers (name, configuration) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET configuration=excluded.configuration",
            (name, configuration),
        )

    async def delete_dicomweb_server(self, name: str) -> None:
        await self.conn.execute("DELETE FROM dicomweb_servers WHERE name=?", (name,))

    async def list_modalities(self) -> dict[str, str]:
        rows = await self._all("SELECT name, configuration FROM modalities", ())
        return {str(r[0]): str(r[1]) for r in rows}

    async def set_modality(self, name: str, configuration: str) -> None:
        await self.conn.execute(
            "INSERT INTO modalities (name, configuration) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET configuration=excluded.configuration",
            (name, configuration),
        )

    async def delete_modality(self, name: str) -> bool:
        cursor = await self.conn.execute("DELETE FROM modalities WHERE name=?", (name,))
        return bool(cursor.rowcount)


def _predicate(f: TagFilter) -> tuple[str, tuple[str, ...]]:
    column = "t.normalized" if f.column == "normalized" else "t.value"
    if f.operator == "=":
        return f"{column} = ?", f.arguments
    if f.operator == "IN":
        return f"{column} IN ({_marks(len(f.arguments))})", f.arguments
    if f.operator == "LIKE":
        # GLOB-free, portable LIKE; SQLite's LIKE is case-insensitive for ASCII unless told otherwise,
        # which only loosens the prefilter (the core re-checks every candidate).
        return f"{column} LIKE ? ESCAPE '\\'", f.arguments
    if f.operator == "BETWEEN":
        return f"{column} BETWEEN ? AND ?", f.arguments
    if f.operator in ("<=", ">="):
        return f"{column} {f.operator} ?", f.arguments
    raise ValueError(f.operator)
