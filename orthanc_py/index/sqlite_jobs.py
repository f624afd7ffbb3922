"""The SQLite statements of jobs, Orthanc peers and queries to modalities (plain SQL that a
PostgreSQL or MySQL backend can run as is)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .jobs_rows import JOB_MUTABLE_COLUMNS, JobRow, QueryRow

_JOB_COLUMNS = (
    "id, seq, type, state, priority, progress, creation_time, state_time, status_time, runtime_ms, "
    "error_code, error_details, content, parameters, owner, heartbeat, command"
)


def _job(r: Sequence[Any]) -> JobRow:
    return JobRow(*r)


class SQLiteJobsStatements:
    """Mixed into ``SQLiteTransaction``, which provides ``conn``, ``_one`` and ``_all``."""

    conn: Any

    _one: Callable[..., Awaitable[Any]]
    _all: Callable[..., Awaitable[list[Any]]]

    # --- jobs
    async def add_job(self, job: JobRow) -> None:
        r = await self._one("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs")
        job.seq = int(r[0])
        await self.conn.execute(
            f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({','.join('?' * 17)})",
            (
                job.id,
                job.seq,
                job.type,
                job.state,
                job.priority,
                job.progress,
                job.creation_time,
                job.state_time,
                job.status_time,
                job.runtime_ms,
                job.error_code,
                job.error_details,
                job.content,
                job.parameters,
                job.owner,
                job.heartbeat,
                job.command,
            ),
        )

    async def get_job(self, job_id: str) -> JobRow | None:
        r = await self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,))
        return _job(r) if r else None

    async def list_jobs(self) -> list[JobRow]:
        return [_job(r) for r in await self._all(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY id", rows=100)]

    async def list_job_ids(self) -> list[str]:
        return [r[0] for r in await self._all("SELECT id FROM jobs ORDER BY id", rows=100)]

    async def has_pending_job(self) -> bool:
        return await self._one("SELECT 1 FROM jobs WHERE state='Pending' LIMIT 1") is not None

    async def claim_job(self, owner: str, heartbeat: float) -> JobRow | None:
        """Take the pending job of highest priority (oldest first) for ``owner``; a write transaction."""
        r = await self._one(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state='Pending' ORDER BY priority DESC, seq LIMIT 1"
        )
        if r is None:
            return None
        job = _job(r)
        await self.conn.execute(
            "UPDATE jobs SET state='Running', owner=?, heartbeat=?, command=NULL, error_code=0, "
            "error_details='' WHERE id=?",
            (owner, heartbeat, job.id),
        )
        job.state, job.owner, job.heartbeat, job.command = "Running", owner, heartbeat, None
        job.error_code, job.error_details = 0, ""
        return job

    async def update_job(self, job_id: str, changes: dict[str, Any], *, owner: str | None = None) -> bool:
        """Change some columns; with ``owner``, only while that process still runs the job."""
        unknown = set(changes) - JOB_MUTABLE_COLUMNS
        if unknown:
            raise ValueError(f"Not a mutable column of jobs: {sorted(unknown)}")
        sql = "UPDATE jobs SET " + ", ".join(f"{c}=?" for c in changes) + " WHERE id=?"
        params = [*changes.values(), job_id]
        if owner is not None:
            sql += " AND owner=? AND state='Running'"
            params.append(owner)
        cursor = await self.conn.execute(sql, params)
        return bool(cursor.rowcount)

    async def get_job_command(self, job_id: str) -> str | None:
        r = await self._one("SELECT command FROM jobs WHERE id=?", (job_id,))
        return str(r[0]) if r and r[0] is not None else None

    async def delete_job(self, job_id: str) -> bool:
        await self.conn.execute("DELETE FROM job_outputs WHERE job_id=?", (job_id,))
        cursor = await self.conn.execute("DELETE FROM jobs WHERE id=?", (job_id,))
        return bool(cursor.rowcount)

    async def trim_job_history(self, keep: int) -> list[str]:
        """Forget the oldest finished jobs beyond ``keep`` (Orthanc's JobsHistorySize)."""
        rows = await self._all(
            "SELECT id FROM jobs WHERE state IN ('Success', 'Failure') "
            "ORDER BY state_time DESC, seq DESC LIMIT -1 OFFSET ?",
            (keep,),
            rows=100,
        )
        for (job_id,) in rows:
            await self.delete_job(job_id)
        return [r[0] for r in rows]

    async def requeue_jobs(self, owner: str | None = None, heartbeat_before: float | None = None) -> int:
        """Put running jobs back to Pending: those of ``owner``, those whose owner stopped reporting
        before ``heartbeat_before``, or (neither given) all of them."""
        sql = "UPDATE jobs SET state='Pending', owner=NULL, command=NULL WHERE state='Running'"
        params: list[Any] = []
        if owner is not None:
            sql += " AND owner=?"
            params.append(owner)
        if heartbeat_before is not None:
            sql += " AND (heartbeat IS NULL OR heartbeat < ?)"
            params.append(heartbeat_before)
        cursor = await self.conn.execute(sql, params)
        return int(cursor.rowcount)

    async def delete_unfinished_jobs(self) -> None:
        await self.conn.execute(
            "DELETE FROM job_outputs WHERE job_id IN "
            "(SELECT id FROM jobs WHERE state NOT IN ('Success', 'Failure'))"
        )
        await self.conn.execute("DELETE FROM jobs WHERE state NOT IN ('Success', 'Failure')")

    async def set_job_output(self, job_id: str, key: str, mime: str, content: bytes) -> None:
        await self.conn.execute(
            "INSERT INTO job_outputs (job_id, key, mime, content) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (job_id, key) DO UPDATE SET mime=excluded.mime, content=excluded.content",
            (job_id, key, mime, content),
        )

    async def get_job_output(self, job_id: str, key: str) -> tuple[str, bytes] | None:
        r = await self._one("SELECT mime, content FROM job_outputs WHERE job_id=? AND key=?", (job_id, key))
        return (str(r[0]), bytes(r[1])) if r else None

    async def delete_job_output(self, job_id: str, key: str) -> bool:
        cursor = await self.conn.execute("DELETE FROM job_outputs WHERE job_id=? AND key=?", (job_id, key))
        return bool(cursor.rowcount)

    # --- Orthanc peers defined over REST (OrthancPeersInDatabase)
    async def list_peers(self) -> dict[str, str]:
        rows = await self._all("SELECT name, configuration FROM peers", rows=100)
        return {str(r[0]): str(r[1]) for r in rows}

    async def set_peer(self, name: str, configuration: str) -> None:
        await self.conn.execute(
            "INSERT INTO peers (name, configuration) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET configuration=excluded.configuration",
            (name, configuration),
        )

    async def delete_peer(self, name: str) -> bool:
        cursor = await self.conn.execute("DELETE FROM peers WHERE name=?", (name,))
        return bool(cursor.rowcount)

    # --- queries to modalities (/queries), QueryRetrieveSize of them
    async def add_query(self, query: QueryRow, keep: int) -> None:
        r = await self._one("SELECT COALESCE(MAX(seq), 0) + 1 FROM queries")
        await self.conn.execute(
            "INSERT INTO queries (id, seq, modality, level, query, answers, normalize, timeout)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                query.id,
                int(r[0]),
                query.modality,
                query.level,
                query.query,
                query.answers,
                int(query.normalize),
                query.timeout,
            ),
        )
        await self.conn.execute(
            "DELETE FROM queries WHERE id IN (SELECT id FROM queries ORDER BY seq DESC LIMIT -1 OFFSET ?)",
            (max(keep, 1),),
        )

    async def get_query(self, query_id: str) -> QueryRow | None:
        r = await self._one(
            "SELECT id, modality, level, query, answers, normalize, timeout FROM queries WHERE id=?",
            (query_id,),
        )
        if r is None:
            return None
        return QueryRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), None if r[6] is None else int(r[6]))

    async def list_query_ids(self) -> list[str]:
        return [r[0] for r in await self._all("SELECT id FROM queries ORDER BY id", rows=100)]

    async def delete_query(self, query_id: str) -> bool:
        cursor = await self.conn.execute("DELETE FROM queries WHERE id=?", (query_id,))
        return bool(cursor.rowcount)
