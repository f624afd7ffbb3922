"""Stable patients, studies and series: logged once after StableAge, even with several processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orthanc_py.app import build_context
from orthanc_py.config import settings_from_json
from orthanc_py.core.context import RequestOrigin, ServerContext
from orthanc_py.core.enumerations import ChangeType
from orthanc_py.core.identifiers import ResourceLevel
from tests.integration.test_series_status import instance


async def stable_changes(context: ServerContext) -> list[str]:
    async with context.index.transaction() as tx:
        changes, _, _ = await tx.get_changes(0, 1000)
    return [ChangeType(c.change_type).name for c in changes]


def test_stable_changes_are_logged_once_across_processes(tmp_path: Path) -> None:
    async def scenario() -> None:
        settings = settings_from_json({"StorageDirectory": str(tmp_path), "StableAge": 1})
        # Two contexts on one index and storage, as two worker processes (or two nodes) have.
        first, second = build_context(settings), build_context(settings)
        await first.start()
        await second.start(recover=False)
        try:
            stored = await first.store(instance(1), RequestOrigin("RestApi"))
            await second.store(instance(2), RequestOrigin("RestApi"))
            series = stored.public_ids[ResourceLevel.SERIES]
            assert not first.stability.is_stable(series) and not second.stability.is_stable(series)
            await asyncio.sleep(3.5)
            kinds = await stable_changes(first)
            for name in ("STABLE_SERIES", "STABLE_STUDY", "STABLE_PATIENT"):
                assert kinds.count(name) == 1, kinds
            assert first.stability.is_stable(series) and second.stability.is_stable(series)
        finally:
            await second.stop()
            await first.stop()

    asyncio.run(scenario())
