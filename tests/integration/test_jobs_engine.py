"""The jobs engine: states, pause/resume/cancel/resubmit, history, restarts, several processes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from orthanc_py.app import build_context
from orthanc_py.config import settings_from_json
from orthanc_py.core.context import ServerContext
from orthanc_py.core.errors import ErrorCode, OrthancError
from orthanc_py.core.jobs.model import Job, describe_job, job_type

STEP_DELAY = 0.05


@job_type
class CountingJob(Job):
    """Counts to ``Steps``, one step each STEP_DELAY seconds; fails at ``FailAt`` if given."""

    job_type = "TestCounting"

    def __init__(self, steps: int, position: int = 0, fail_at: int | None = None) -> None:
        self.steps, self.position, self.fail_at = steps, position, fail_at

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> Job:
        return cls(parameters["Steps"], parameters["Position"], parameters.get("FailAt"))

    def parameters(self) -> dict[str, Any]:
        return {"Steps": self.steps, "Position": self.position, "FailAt": self.fail_at}

    async def step(self, context: ServerContext, job_id: str) -> bool:
        await asyncio.sleep(STEP_DELAY)
        if self.fail_at is not None and self.position == self.fail_at:
            self.fail_at = None  # a resubmitted job goes through
            raise OrthancError(ErrorCode.NetworkProtocol, "The peer went away")
        self.position += 1
        return self.position >= self.steps

    def progress(self) -> float:
        return self.position / self.steps

    def content(self) -> dict[str, Any]:
        return {"Position": self.position}

    def reset(self) -> None:
        self.position = 0


def run(tmp_path: Path, scenario: Callable[..., Awaitable[None]], count: int = 1, **config: Any) -> None:
    settings = settings_from_json({"StorageDirectory": str(tmp_path), **config})

    async def main() -> None:
        contexts = [build_context(settings) for _ in range(count)]
        for i, context in enumerate(contexts):
            await context.start(recover=i == 0)
        try:
            await scenario(*contexts)
        finally:
            for context in reversed(contexts):
                await context.stop()

    asyncio.run(main())


async def state_becomes(
    context: ServerContext, job_id: str, state: str, timeout: float = 10
) -> dict[str, Any]:
    for _ in range(int(timeout / 0.02)):
        row = await context.jobs.get(job_id)
        assert row is not None
        if row.state == state:
            return describe_job(row)
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} is {row.state}, not {state}")


def test_a_job_runs_to_success_with_orthanc_json(tmp_path: Path) -> None:
    async def scenario(context: ServerContext) -> None:
        content = await context.jobs.submit_and_wait(CountingJob(3), priority=4)
        assert content == {"Position": 3}
        (row,) = await context.jobs.list_jobs()
        job = describe_job(row)
        assert job["State"] == "Success" and job["Progress"] == 100 and job["Priority"] == 4
        assert job["ErrorCode"] == 0 and job["ErrorDescription"] == "Success" and job["ErrorDetails"] == ""
        assert job["Type"] == "TestCounting" and job["Content"] == {"Position": 3}
        assert job["EffectiveRuntime"] > 0
        assert set(job) == {
            "ID", "Type", "State", "Progress", "Priority", "CreationTime", "CompletionTime",
            "EffectiveRuntime", "ErrorCode", "ErrorDescription", "ErrorDetails", "Timestamp", "Content",
        }  # fmt: skip

    run(tmp_path, scenario)


def test_pause_resume_cancel_resubmit(tmp_path: Path) -> None:
    async def scenario(context: ServerContext) -> None:
        jobs = context.jobs
        job_id = await jobs.submit(CountingJob(40))
        await state_becomes(context, job_id, "Running")
        assert await jobs.pause(job_id)
        paused = await state_becomes(context, job_id, "Paused")
        assert 0 < paused["Progress"] < 100 and "CompletionTime" not in paused
        await asyncio.sleep(3 * STEP_DELAY)
        assert (await state_becomes(context, job_id, "Paused"))["Progress"] == paused["Progress"]
        assert not await jobs.resubmit(job_id)  # only a failed job may be resubmitted
        assert await jobs.resume(job_id)
        await state_becomes(context, job_id, "Running")
        assert await jobs.cancel(job_id)
        canceled = await state_becomes(context, job_id, "Failure")
        assert canceled["ErrorCode"] == 37 and canceled["ErrorDescription"] == "This job was canceled"
        assert not await jobs.resume(job_id)
        assert await jobs.resubmit(job_id)
        done = await jobs.wait(job_id)
        assert done.state == "Success" and done.progress == 100
        assert not await jobs.pause("unknown") and not await jobs.cancel("unknown")

    run(tmp_path, scenario)


def test_a_failing_job_reports_its_error_and_can_be_resubmitted(tmp_path: Path) -> None:
    async def scenario(context: ServerContext) -> None:
        with pytest.raises(OrthancError) as error:
            await context.jobs.submit_and_wait(CountingJob(3, fail_at=1))
        assert error.value.code == ErrorCode.NetworkProtocol
        (row,) = await context.jobs.list_jobs()
        job = describe_job(row)
        assert job["State"] == "Failure" and job["ErrorCode"] == 9
        assert job["ErrorDetails"] == "The peer went away" and "CompletionTime" in job
        assert await context.jobs.resubmit(row.id)
        assert (await context.jobs.wait(row.id)).state == "Success"

    run(tmp_path, scenario)


def test_pending_jobs_can_be_paused_and_canceled_and_priority_orders_them(tmp_path: Path) -> None:
    async def scenario(context: ServerContext) -> None:
        jobs = context.jobs
        blocker = await jobs.submit(CountingJob(10))  # ConcurrentJobs = 1: the others wait
        await state_becomes(context, blocker, "Running")
        low = await jobs.submit(CountingJob(1), priority=0)
        high = await jobs.submit(CountingJob(1), priority=10)
        paused = await jobs.submit(CountingJob(1))
        canceled = await jobs.submit(CountingJob(1))
        await jobs.pause(paused)
        await jobs.cancel(canceled)
        assert (await state_becomes(context, paused, "Paused"))["Progress"] == 0
        assert (await state_becomes(context, canceled, "Failure"))["ErrorCode"] == 37
        assert (await jobs.wait(low)).state_time > (await jobs.wait(high)).state_time
        assert (await jobs.get(paused)).state == "Paused"  # type: ignore[union-attr]

    run(tmp_path, scenario, ConcurrentJobs=1)


def test_history_keeps_the_most_recent_finished_jobs(tmp_path: Path) -> None:
    async def scenario(context: ServerContext) -> None:
        ids = [await context.jobs.submit(CountingJob(1)) for _ in range(4)]
        for job_id in ids:
            await context.jobs.wait(job_id)
        remaining = {row.id for row in await context.jobs.list_jobs()}
        assert len(remaining) == 2 and ids[3] in remaining and ids[0] not in remaining
        await context.jobs.delete(ids[3])
        assert {row.id for row in await context.jobs.list_jobs()} == remaining - {ids[3]}
        with pytest.raises(OrthancError):
            await context.jobs.delete(ids[3])

    run(tmp_path, scenario, JobsHistorySize=2, ConcurrentJobs=1)


def test_unfinished_jobs_resume_after_a_restart(tmp_path: Path) -> None:
    state: dict[str, Any] = {}

    async def before(context: ServerContext) -> None:
        state["id"] = await context.jobs.submit(CountingJob(30))
        running = await state_becomes(context, state["id"], "Running")
        while running["Content"]["Position"] < 3:
            await asyncio.sleep(0.05)
            running = describe_job(await context.jobs.get(state["id"]))  # type: ignore[arg-type]

    async def after(context: ServerContext) -> None:
        row = await context.jobs.get(state["id"])
        assert row is not None and row.state in ("Pending", "Running")
        done = await context.jobs.wait(state["id"])
        assert done.state == "Success" and done.runtime_ms >= 30 * STEP_DELAY * 1000 * 0.9

    run(tmp_path, before)
    run(tmp_path, after)


def test_without_save_jobs_unfinished_jobs_are_dropped_at_restart(tmp_path: Path) -> None:
    async def before(context: ServerContext) -> None:
        await state_becomes(context, await context.jobs.submit(CountingJob(100)), "Running")

    async def after(context: ServerContext) -> None:
        assert await context.jobs.list_jobs() == []

    run(tmp_path, before, SaveJobs=False)
    run(tmp_path, after, SaveJobs=False)


def test_two_processes_share_the_jobs(tmp_path: Path) -> None:
    async def scenario(first: ServerContext, second: ServerContext) -> None:
        job_id = await first.jobs.submit(CountingJob(60))
        await state_becomes(second, job_id, "Running")
        assert [row.id for row in await second.jobs.list_jobs()] == [job_id]
        assert await second.jobs.cancel(job_id)  # whichever process runs it
        assert (await state_becomes(first, job_id, "Failure"))["ErrorCode"] == 37
        # Several jobs at once: each runs exactly once, spread over both processes.
        ids = [await second.jobs.submit(CountingJob(2)) for _ in range(6)]
        results = await asyncio.gather(*(first.jobs.wait(i) for i in ids))
        assert all(row.state == "Success" and row.progress == 100 for row in results)

    run(tmp_path, scenario, count=2)
