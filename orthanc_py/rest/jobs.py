"""``/jobs``: the jobs of every process sharing the index (Orthanc's OrthancRestJobs.cpp), and how
the routes that create jobs answer (``Synchronous``, ``Asynchronous``, ``Priority``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.errors import ErrorCode, OrthancError
from ..core.jobs import dicomweb_client  # noqa: F401  (registers its job types, to resume them)
from ..core.jobs.model import Job, describe_job
from .context_access import context_of
from .responses import OrthancJSONResponse, empty_json


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise OrthancError(ErrorCode.BadFileFormat, f'The field "{name}" must be a Boolean')


def is_synchronous(body: Any, default: bool = True) -> bool:
    """Orthanc's IsSynchronousJobRequest: ``Synchronous`` wins over ``Asynchronous``."""
    if not isinstance(body, dict):
        return default
    if "Synchronous" in body:
        return _flag(body["Synchronous"], "Synchronous")
    if "Asynchronous" in body:
        return not _flag(body["Asynchronous"], "Asynchronous")
    return default


def job_priority(body: Any) -> int:
    if not isinstance(body, dict) or "Priority" not in body:
        return 0
    value = body["Priority"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrthancError(ErrorCode.BadFileFormat, 'The field "Priority" must be an integer')
    return value


async def answer_job(
    request: Request, job: Job, body: Any, *, synchronous_by_default: bool = True
) -> Response:
    """Run the job and answer its content, or (asynchronous) answer where to follow it."""
    jobs = context_of(request).jobs
    priority = job_priority(body)
    if is_synchronous(body, synchronous_by_default):
        return OrthancJSONResponse(await jobs.submit_and_wait(job, priority))
    job_id = await jobs.submit(job, priority)
    return OrthancJSONResponse({"ID": job_id, "Path": f"/jobs/{job_id}"})


async def list_jobs(request: Request) -> Response:
    jobs = context_of(request).jobs
    if "expand" in request.query_params:
        return OrthancJSONResponse([describe_job(row) for row in await jobs.list_jobs()])
    return OrthancJSONResponse(await jobs.list_ids())


async def get_job(request: Request) -> Response:
    row = await context_of(request).jobs.get(request.path_params["id"])
    if row is None:
        return Response(status_code=404)  # Orthanc answers an unknown job with a bare 404
    return OrthancJSONResponse(describe_job(row))


async def delete_job(request: Request) -> Response:
    await context_of(request).jobs.delete(request.path_params["id"])
    return empty_json()


def _action(name: str) -> Any:
    async def apply(request: Request) -> Response:
        jobs = context_of(request).jobs
        done = await getattr(jobs, name)(request.path_params["id"])
        # Orthanc leaves a refused action unanswered, which its REST layer turns into a bare 400.
        return empty_json() if done else Response(status_code=400)

    apply.__name__ = f"{name}_job"
    return apply


async def get_job_output(request: Request) -> Response:
    job_id, key = request.path_params["id"], request.path_params["key"]
    context = context_of(request)
    async with context.index.transaction() as tx:
        if await tx.get_job(job_id) is None:
            return Response(status_code=404)
        output = await tx.get_job_output(job_id, key)
    if output is None:
        raise OrthancError(ErrorCode.InexistentItem, f"Job {job_id} has no output with key: {key}")
    mime, content = output
    return Response(content, media_type=mime)


async def delete_job_output(request: Request) -> Response:
    job_id, key = request.path_params["id"], request.path_params["key"]
    async with context_of(request).index.transaction(write=True) as tx:
        if await tx.get_job(job_id) is None:
            return Response(status_code=404)
        if not await tx.delete_job_output(job_id, key):
            raise OrthancError(ErrorCode.InexistentItem, f"Job {job_id} has no output with key: {key}")
    return empty_json()


routes = [
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{id}", get_job, methods=["GET"]),
    Route("/jobs/{id}", delete_job, methods=["DELETE"]),
    Route("/jobs/{id}/cancel", _action("cancel"), methods=["POST"]),
    Route("/jobs/{id}/pause", _action("pause"), methods=["POST"]),
    Route("/jobs/{id}/resume", _action("resume"), methods=["POST"]),
    Route("/jobs/{id}/resubmit", _action("resubmit"), methods=["POST"]),
    Route("/jobs/{id}/{key}", get_job_output, methods=["GET"]),
    Route("/jobs/{id}/{key}", delete_job_output, methods=["DELETE"]),
]
