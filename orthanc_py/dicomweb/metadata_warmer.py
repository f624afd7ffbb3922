"""Keeps the WADO-RS metadata of received instances ready before a viewer asks for it.

A viewer opening a series asks for its ``/metadata`` first; computing the DICOM JSON of every
instance then (``metadata_cache.py``) costs a file read and a parse per instance. This module
computes it in the background instead, from the change feed of the process that stored the
instances:

- ``NewInstance``: the instance is queued, and computed once this process has received nothing for
  ``QUIET_SECONDS``, so that the work never competes with an ingest in progress;
- ``StableSeries``: every instance of the series still missing from the index is computed (those
  dropped from a full queue, or received by a process that stopped meanwhile).

One worker task per process at most, running one chunk of files at a time through the CPU pool, so
that requests keep their share of it. The result lives in the index, shared by all processes: each
chunk first asks the index which instances are still missing, so that work done by another process
(or by a first request) is not done again. Everything here is an optimization: on any error the
queued work is dropped and the first request computes what is missing, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..core.changes import ChangeEvent
from ..core.context import ServerContext
from ..core.enumerations import ChangeType
from ..core.identifiers import ResourceLevel
from .config import DicomWebConfig
from .metadata_cache import keep_missing

logger = logging.getLogger(__name__)

# How long this process must have received no instance before the queued ones are computed.
QUIET_SECONDS = 0.5
# Instances per step: one index check, one chunk of file reads and parses, one index write.
STEP = 16
# The queue is bounded: past this, new instances wait for their StableSeries (or a request).
MAX_QUEUED = 20_000


class MetadataWarmer:
    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self._instances: dict[str, None] = {}  # public IDs from NewInstance, in arrival order
        self._series: dict[str, None] = {}  # public IDs from StableSeries
        self._ids: list[int] = []  # internal IDs of the instances of a stable series, to check
        self._last_arrival = 0.0
        self._worker: asyncio.Task[None] | None = None
        self.computed = 0  # instances computed by this process (for tests and logs)

    @property
    def idle(self) -> bool:
        return self._worker is None

    async def on_change(self, event: ChangeEvent) -> None:
        """The change feed's listener: only queues (it runs on the store's path)."""
        change = event.change_type
        if change is ChangeType.NEW_INSTANCE:
            self._last_arrival = time.monotonic()
            if len(self._instances) < MAX_QUEUED:
                self._instances[event.public_id] = None
        elif change is ChangeType.STABLE_SERIES:
            self._series[event.public_id] = None
        elif change is ChangeType.DELETED:
            self._instances.pop(event.public_id, None)
            self._series.pop(event.public_id, None)
            return
        else:
            return
        if self._worker is None:
            self._worker = self.context.in_background(self._run())

    def _has_work(self) -> bool:
        return bool(self._ids or self._instances or self._series)

    async def _run(self) -> None:
        try:
            while self._has_work():
                wait = self._last_arrival + QUIET_SECONDS - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                try:
                    await self._step()
                except Exception:  # e.g. the index closing at shutdown
                    logger.warning("DICOMweb metadata: background computation stopped", exc_info=True)
                    self._ids.clear()
                    self._instances.clear()
                    self._series.clear()
        finally:
            self._worker = None

    async def _step(self) -> None:
        if self._ids:
            ids, self._ids = self._ids[:STEP], self._ids[STEP:]
        elif self._instances:
            public_ids = list(self._instances)[:STEP]
            for public_id in public_ids:
                del self._instances[public_id]
            ids = await self._internal_ids(public_ids)
        else:
            series = next(iter(self._series))
            del self._series[series]
            self._ids = await self._instances_of_series(series)
            return
        if ids:
            self.computed += await keep_missing(self.context, ids)

    async def _internal_ids(self, public_ids: list[str]) -> list[int]:
        ids = []
        async with self.context.index.transaction() as tx:
            for public_id in public_ids:
                row = await tx.lookup(public_id)
                if row is not None and row.level is ResourceLevel.INSTANCE:
                    ids.append(row.internal_id)
        return ids

    async def _instances_of_series(self, public_id: str) -> list[int]:
        async with self.context.index.transaction() as tx:
            row = await tx.lookup(public_id)
            if row is None or row.level is not ResourceLevel.SERIES:
                return []
            return [child.internal_id for child in await tx.get_children([row.internal_id])]


def install_metadata_warmer(context: ServerContext) -> MetadataWarmer | None:
    """Subscribe a warmer to the context's change feed, when DICOMweb serves kept metadata."""
    config = DicomWebConfig.from_settings(context.settings)
    if not config.enable or context.settings.read_only:
        return None
    warmer = MetadataWarmer(context)
    context.changes.subscribe(warmer.on_change)
    return warmer
