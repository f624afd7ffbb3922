"""Change events: fan-out to listeners, and Orthanc's "stable resource" bookkeeping.

The change *log* lives in the index (its sequence numbers come from the database, so every node
agrees); this module only tells in-process listeners (WebSocket clients, plugins, Lua) what was
committed, and turns quiet resources into ``StablePatient/Study/Series`` changes after ``StableAge``
seconds, as Orthanc's ``unstableResources_`` does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from .enumerations import ChangeType
from .identifiers import ResourceLevel

logger = logging.getLogger(__name__)


def now_iso() -> str:
    """Orthanc's timestamp format for changes and metadata: local time, ``YYYYMMDDTHHMMSS``."""
    global _now_iso_cache
    second = int(time.time())
    if _now_iso_cache[0] != second:  # formatted once a second, not several times per instance
        _now_iso_cache = (second, datetime.fromtimestamp(second).strftime("%Y%m%dT%H%M%S"))
    return _now_iso_cache[1]


_now_iso_cache: tuple[int, str] = (-1, "")


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    change_type: ChangeType
    level: ResourceLevel
    public_id: str
    date: str
    seq: int | None = None

    @property
    def path(self) -> str:
        return f"/{self.level.plural}/{self.public_id}"


Listener = Callable[[ChangeEvent], Awaitable[None]]


class ChangeFeed:
    """Delivers committed changes to listeners, in order, without ever blocking the writer."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def publish(self, events: list[ChangeEvent]) -> None:
        for event in events:
            for listener in list(self._listeners):
                try:
                    await listener(event)
                except Exception:  # a failing listener must not break ingest
                    logger.exception("Change listener failed on %s", event)


class StabilityMonitor:
    """Which patients, studies and series received an instance less than ``StableAge`` seconds ago."""

    def __init__(self, stable_age: float) -> None:
        self.stable_age = stable_age
        # public_id → (level, monotonic time of the last new child)
        self._unstable: dict[str, tuple[ResourceLevel, float]] = {}

    def touch(self, level: ResourceLevel, public_id: str) -> None:
        self._unstable.pop(public_id, None)  # re-insert keeps the dict ordered by last update
        self._unstable[public_id] = (level, time.monotonic())

    def forget(self, public_id: str) -> None:
        self._unstable.pop(public_id, None)

    def is_stable(self, public_id: str) -> bool:
        return public_id not in self._unstable

    def pop_stable(self) -> list[tuple[ResourceLevel, str]]:
        deadline = time.monotonic() - self.stable_age
        ready: list[tuple[ResourceLevel, str]] = []
        for public_id, (level, when) in list(self._unstable.items()):
            if when > deadline:
                break
            ready.append((level, public_id))
            del self._unstable[public_id]
        return ready


STABLE_CHANGE = {
    ResourceLevel.PATIENT: ChangeType.STABLE_PATIENT,
    ResourceLevel.STUDY: ChangeType.STABLE_STUDY,
    ResourceLevel.SERIES: ChangeType.STABLE_SERIES,
}


async def run_every(interval: float, job: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Periodic task failed")
