"""Rows of the index tables of jobs, peers and queries to modalities (shared by every backend)."""

from __future__ import annotations

from dataclasses import dataclass

# The columns of ``jobs`` that ``update_job`` may change.
JOB_MUTABLE_COLUMNS = frozenset(
    {
        "state",
        "priority",
        "progress",
        "state_time",
        "status_time",
        "runtime_ms",
        "error_code",
        "error_details",
        "content",
        "parameters",
        "owner",
        "heartbeat",
        "command",
    }
)


@dataclass(slots=True)
class JobRow:
    id: str
    seq: int
    type: str
    state: str
    priority: int
    progress: int
    creation_time: str
    state_time: str
    status_time: str
    runtime_ms: int
    error_code: int
    error_details: str
    content: str  # JSON
    parameters: str  # JSON
    owner: str | None = None
    heartbeat: float | None = None
    command: str | None = None


@dataclass(frozen=True, slots=True)
class QueryRow:
    id: str
    modality: str
    level: str
    query: str  # JSON
    answers: str  # JSON list
    normalize: bool = True  # the query's "Normalize", which its child queries keep
    timeout: int | None = None  # the query's "Timeout" (seconds), which its child queries keep
