"""What a job is: its states, the base class of job types, and the JSON of ``GET /jobs/{id}``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from ...index.jobs_rows import JobRow
from ..errors import ERROR_DESCRIPTIONS, ErrorCode, OrthancError

if TYPE_CHECKING:
    from ..context import ServerContext


class JobState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESS = "Success"
    FAILURE = "Failure"
    PAUSED = "Paused"
    RETRY = "Retry"


FINISHED = (JobState.SUCCESS, JobState.FAILURE)


def iso_now() -> str:
    """Orthanc's time of jobs (boost's ``to_iso_string`` of universal time): ``20240131T235959.123456``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")


class Job(ABC):
    """A type of job. The engine calls ``step`` until it answers True (done) or raises
    ``OrthancError`` (failure), checking for pause and cancel between steps; ``parameters`` is
    saved in the index so that any process can resume the job from where it stopped."""

    job_type: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> Job: ...

    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """Everything needed to resume the job (position included) or to run it again."""

    @abstractmethod
    async def step(self, context: ServerContext, job_id: str) -> bool:
        """Do one piece of the work; True once the job is complete."""

    @abstractmethod
    def progress(self) -> float:
        """From 0 to 1."""

    @abstractmethod
    def content(self) -> dict[str, Any]:
        """The public ``Content`` of ``GET /jobs/{id}`` (what a synchronous route answers)."""

    def reset(self) -> None:
        """Back to the start, for ``resubmit``."""
        return None

    async def release(self) -> None:
        """Free network connections (the job is paused, finished, or the process stops)."""
        return None


_JOB_TYPES: dict[str, type[Job]] = {}


def job_type(cls: type[Job]) -> type[Job]:
    """Register a job type under its Orthanc name, so that any process can resume its jobs."""
    _JOB_TYPES[cls.job_type] = cls
    return cls


def make_job(type_name: str, parameters: str) -> Job:
    cls = _JOB_TYPES.get(type_name)
    if cls is None:
        raise OrthancError(ErrorCode.NotImplemented, f"Unknown type of job: {type_name}")
    return cls.from_parameters(orjson.loads(parameters))


def describe_job(row: JobRow) -> dict[str, Any]:
    """Orthanc's ``JobInfo::Format``: the JSON of ``GET /jobs/{id}``."""
    code = ErrorCode(row.error_code)
    answer: dict[str, Any] = {
        "ID": row.id,
        "Type": row.type,
        "State": row.state,
        "Priority": row.priority,
        "Progress": row.progress,
        "ErrorCode": int(code),
        "ErrorDescription": ERROR_DESCRIPTIONS.get(code, code.name),
        "ErrorDetails": row.error_details,
        "Timestamp": iso_now(),
        "CreationTime": row.creation_time,
        "EffectiveRuntime": row.runtime_ms / 1000.0,
        "Content": orjson.loads(row.content),
    }
    if row.state in FINISHED:
        answer["CompletionTime"] = row.state_time
    return answer
