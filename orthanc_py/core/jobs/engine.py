"""The jobs engine: Orthanc's JobsEngine over a table of the index, so that every process sharing the
index sees the same jobs and any of them may run, pause or cancel one.

A process claims the pending job of highest priority in a write transaction (it becomes its
``owner``), runs its steps, and between two steps reads the ``command`` column where ``pause`` and
``cancel`` requests land, whichever process received them. Progress, content and the serialized
parameters are written back regularly; a process that stops puts its running jobs back to Pending
with their position, and a process that died is noticed by its silent heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson

from ...index.jobs_rows import JobRow
from ..errors import ErrorCode, OrthancError
from .model import FINISHED, Job, JobState, iso_now, make_job

if TYPE_CHECKING:
    from ..context import ServerContext

logger = logging.getLogger(__name__)

IDLE_POLL = 0.5  # seconds between two looks for pending jobs submitted by another process
FLUSH_PERIOD = 0.2  # seconds between two writes of a running job's progress
HEARTBEAT_PERIOD = 5.0
STALE_AFTER = 30.0  # a running job whose owner is silent that long is given to another process
WAIT_POLL = 0.1  # seconds between two looks at a job waited for, run by another process


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class JobsEngine:
    def __init__(self, context: ServerContext) -> None:
        self.context = context
        settings = context.settings
        self.concurrency = settings.concurrent_jobs if settings.concurrent_jobs > 0 else os.cpu_count() or 1
        self.history_size = max(0, settings.jobs_history_size)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Final rows of the jobs this process finished, for a waiter when the history keeps none.
        self._finished: dict[str, JobRow] = {}
        self._finished_event = asyncio.Event()

    # --- life cycle

    async def start(self, *, recover: bool) -> None:
        """``recover``: this is the first process on the index, so no job can be running elsewhere."""
        settings = self.context.settings
        if recover and not settings.read_only:
            async with self.context.index.transaction(write=True) as tx:
                if settings.save_jobs and settings.load_jobs_from_database:
                    resumed = await tx.requeue_jobs()
                    if resumed:
                        logger.warning("Resuming %d job(s) interrupted by the last stop", resumed)
                else:
                    await tx.delete_unfinished_jobs()
        if settings.read_only:
            return
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._heartbeat()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()

    # --- submitting and waiting

    async def submit(self, job: Job, priority: int = 0) -> str:
        now = iso_now()
        row = JobRow(
            id=str(uuid.uuid4()),
            seq=0,
            type=job.job_type,
            state=JobState.PENDING,
            priority=priority,
            progress=0,
            creation_time=now,
            state_time=now,
            status_time=now,
            runtime_ms=0,
            error_code=0,
            error_details="",
            content=_dumps(job.content()),
            parameters=_dumps(job.parameters()),
        )
        async with self.context.index.transaction(write=True) as tx:
            await tx.add_job(row)
        logger.info("New job submitted with priority %d: %s (%s)", priority, row.id, row.type)
        self._wakeup.set()
        return row.id

    async def wait(self, job_id: str) -> JobRow:
        """Wait until the job is finished (by whichever process runs it) and return its last row."""
        while True:
            async with self.context.index.transaction() as tx:
                row = await tx.get_job(job_id)
            if row is None:
                row = self._finished.get(job_id)  # finished here, and already out of the history
            if row is None:
                raise OrthancError(ErrorCode.InexistentItem, f"Unknown job: {job_id}")
            if row.state in FINISHED:
                self._finished.pop(job_id, None)
                return row
            self._finished_event.clear()
            await _wait_event(self._finished_event, WAIT_POLL)

    async def submit_and_wait(self, job: Job, priority: int = 0) -> dict[str, Any]:
        """Orthanc's synchronous jobs: the public content on success, the job's error otherwise."""
        job_id = await self.submit(job, priority)
        row = await self.wait(job_id)
        if row.state != JobState.SUCCESS:
            code = ErrorCode(row.error_code) if row.error_code else ErrorCode.InternalError
            raise OrthancError(code, row.error_details or None)
        content: dict[str, Any] = orjson.loads(row.content)
        return content

    # --- what any process may ask of any job

    async def get(self, job_id: str) -> JobRow | None:
        async with self.context.index.transaction() as tx:
            return await tx.get_job(job_id)

    async def list_jobs(self) -> list[JobRow]:
        async with self.context.index.transaction() as tx:
            return await tx.list_jobs()

    async def list_ids(self) -> list[str]:
        async with self.context.index.transaction() as tx:
            return await tx.list_job_ids()

    async def pause(self, job_id: str) -> bool:
        async with self.context.index.transaction(write=True) as tx:
            row = await tx.get_job(job_id)
            if row is None:
                return False
            if row.state in (JobState.PENDING, JobState.RETRY):
                await tx.update_job(job_id, {"state": JobState.PAUSED, "state_time": iso_now()})
            elif row.state == JobState.RUNNING:
                await tx.update_job(job_id, {"command": "pause"})
        return True

    async def cancel(self, job_id: str) -> bool:
        async with self.context.index.transaction(write=True) as tx:
            row = await tx.get_job(job_id)
            if row is None:
                return False
            if row.state in (JobState.PENDING, JobState.RETRY, JobState.PAUSED):
                await tx.update_job(job_id, _canceled())
                await tx.trim_job_history(self.history_size)
            elif row.state == JobState.RUNNING:
                await tx.update_job(job_id, {"command": "cancel"})
        return True

    async def resume(self, job_id: str) -> bool:
        async with self.context.index.transaction(write=True) as tx:
            row = await tx.get_job(job_id)
            if row is None or row.state != JobState.PAUSED:
                return False
            await tx.update_job(job_id, {"state": JobState.PENDING, "state_time": iso_now()})
        self._wakeup.set()
        return True

    async def resubmit(self, job_id: str) -> bool:
        async with self.context.index.transaction(write=True) as tx:
            row = await tx.get_job(job_id)
            if row is None or row.state != JobState.FAILURE:
                return False
            job = make_job(row.type, row.parameters)
            job.reset()
            await tx.update_job(
                job_id,
                {
                    "state": JobState.PENDING,
                    "state_time": iso_now(),
                    "progress": 0,
                    "error_code": 0,
                    "error_details": "",
                    "content": _dumps(job.content()),
                    "parameters": _dumps(job.parameters()),
                    "command": None,
                },
            )
        self._wakeup.set()
        return True

    async def delete(self, job_id: str) -> None:
        """``DELETE /jobs/{id}`` (Orthanc 1.12): forget a finished job."""
        async with self.context.index.transaction(write=True) as tx:
            row = await tx.get_job(job_id)
            if row is None:
                raise OrthancError(ErrorCode.InexistentItem, f"Unknown job: {job_id}")
            if row.state not in FINISHED:
                raise OrthancError(
                    ErrorCode.BadSequenceOfCalls, "Cannot delete a job that is not completed", http_status=400
                )
            await tx.delete_job(job_id)

    # --- running jobs

    async def _worker(self) -> None:
        while True:
            try:
                row = await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Cannot look for pending jobs")
                row = None
            if row is None:
                self._wakeup.clear()
                await _wait_event(self._wakeup, IDLE_POLL)
                continue
            await self._run(row)

    async def _claim(self) -> JobRow | None:
        async with self.context.index.transaction() as tx:
            if not await tx.has_pending_job():
                return None
        async with self.context.index.transaction(write=True) as tx:
            return await tx.claim_job(self.owner, time.time())

    async def _heartbeat(self) -> None:
        """Tell the other processes that this one still runs its jobs; take over those of a dead one."""
        while True:
            await asyncio.sleep(HEARTBEAT_PERIOD)
            try:
                async with self.context.index.transaction(write=True) as tx:
                    now = time.time()
                    for row in await tx.list_jobs():
                        if row.state == JobState.RUNNING and row.owner == self.owner:
                            await tx.update_job(row.id, {"heartbeat": now}, owner=self.owner)
                    taken = await tx.requeue_jobs(heartbeat_before=now - STALE_AFTER)
                if taken:
                    logger.warning("%d job(s) of a process that stopped responding are pending again", taken)
                    self._wakeup.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Cannot update the heartbeat of the running jobs")

    async def _run(self, row: JobRow) -> None:
        logger.info("Running job %s (%s)", row.id, row.type)
        started = time.monotonic()
        base_runtime = row.runtime_ms
        last_flush = started
        job: Job | None = None

        def runtime() -> int:
            return base_runtime + int((time.monotonic() - started) * 1000)

        def status(job: Job) -> dict[str, Any]:
            return {
                "progress": round(job.progress() * 100),
                "content": _dumps(job.content()),
                "parameters": _dumps(job.parameters()),
                "status_time": iso_now(),
                "runtime_ms": runtime(),
            }

        final: dict[str, Any]
        try:
            job = make_job(row.type, row.parameters)
            while True:
                async with self.context.index.transaction() as tx:
                    command = await tx.get_job_command(row.id)
                if command == "pause":
                    await job.release()
                    final = {**status(job), "state": JobState.PAUSED, "owner": None, "command": None}
                    break
                if command == "cancel":
                    await job.release()
                    final = {**status(job), **_canceled()}
                    break
                if await job.step(self.context, row.id):
                    final = {**status(job), "state": JobState.SUCCESS, "owner": None, "command": None}
                    break
                if time.monotonic() - last_flush >= FLUSH_PERIOD:
                    last_flush = time.monotonic()
                    async with self.context.index.transaction(write=True) as tx:
                        await tx.update_job(row.id, status(job), owner=self.owner)
        except asyncio.CancelledError:
            # The process stops: the job is pending again, to be resumed from where it stands.
            if job is not None:
                await job.release()
                await asyncio.shield(self._requeue(row.id, status(job)))
            raise
        except OrthancError as e:
            logger.warning("Job %s (%s) has failed: %s", row.id, row.type, e.details or e.message)
            final = _failed(e.code, e.details or "")
            if job is not None:
                final.update(status(job))
        except Exception as e:
            logger.exception("Job %s (%s) has failed", row.id, row.type)
            final = _failed(ErrorCode.InternalError, str(e))
            if job is not None:
                final.update(status(job))
        if job is not None:
            await job.release()
        final["state_time"] = iso_now()
        if final["state"] == JobState.SUCCESS:
            final["progress"] = 100
        await self._finish(row.id, final)

    async def _finish(self, job_id: str, final: dict[str, Any]) -> None:
        async with self.context.index.transaction(write=True) as tx:
            if not await tx.update_job(job_id, final, owner=self.owner):
                return  # another process took the job over meanwhile
            last = await tx.get_job(job_id)
            if final["state"] in FINISHED:
                await tx.trim_job_history(self.history_size)
        if last is not None and last.state in FINISHED:
            self._finished[job_id] = last
            while len(self._finished) > 100:
                self._finished.pop(next(iter(self._finished)))
        self._finished_event.set()
        logger.info("Job %s is now %s", job_id, final["state"])

    async def _requeue(self, job_id: str, changes: dict[str, Any]) -> None:
        changes = {**changes, "state": JobState.PENDING, "owner": None, "command": None}
        try:
            async with self.context.index.transaction(write=True) as tx:
                await tx.update_job(job_id, changes, owner=self.owner)
        except Exception:
            logger.exception("Cannot save job %s before stopping", job_id)


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    # asyncio.timeout, not wait_for: Python 3.11's wait_for may swallow a cancellation that
    # arrives as its timeout expires, and the engine would then never stop.
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass


def _canceled() -> dict[str, Any]:
    return {
        "state": JobState.FAILURE,
        "state_time": iso_now(),
        "error_code": int(ErrorCode.CanceledJob),
        "error_details": "",
        "owner": None,
        "command": None,
    }


def _failed(code: ErrorCode, details: str) -> dict[str, Any]:
    return {
        "state": JobState.FAILURE,
        "error_code": int(code),
        "error_details": details,
        "owner": None,
        "command": None,
    }
