"""The SQLite statements of storage commitment reports (plain SQL that a PostgreSQL or MySQL
backend can run as is)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SQLiteStorageCommitmentStatements:
    """Mixed into ``SQLiteTransaction``, which provides ``conn`` and ``_one``."""

    conn: Any

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...  # pragma: no cover

    async def set_storage_commitment_report(
        self, transaction_uid: str, remote_aet: str, report: str | None, keep: int
    ) -> None:
        r = await self._one("SELECT COALESCE(MAX(seq), 0) + 1 FROM storage_commitment_reports")
        await self.conn.execute(
            "INSERT INTO storage_commitment_reports (transaction_uid, seq, remote_aet, report) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (transaction_uid) DO UPDATE SET "
            "seq=excluded.seq, remote_aet=excluded.remote_aet, report=excluded.report",
            (transaction_uid, int(r[0]), remote_aet, report),
        )
        if keep > 0:
            await self.conn.execute(
                "DELETE FROM storage_commitment_reports WHERE transaction_uid IN (SELECT transaction_uid "
                "FROM storage_commitment_reports ORDER BY seq DESC LIMIT -1 OFFSET ?)",
                (keep,),
            )

    async def get_storage_commitment_report(self, transaction_uid: str) -> tuple[str, str | None] | None:
        r = await self._one(
            "SELECT remote_aet, report FROM storage_commitment_reports WHERE transaction_uid=?",
            (transaction_uid,),
        )
        return (str(r[0]), None if r[1] is None else str(r[1])) if r else None
