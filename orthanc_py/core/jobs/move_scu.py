"""``DicomMoveScu``: retrieve resources from a modality, one C-MOVE (or C-GET) per query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...net import scu
from ...net.modalities import RemoteModality
from ..dicom_tags import format_tag, parse_tag
from .model import Job, job_type
from .remote import modality_content, modality_of_parameters, modality_parameters

if TYPE_CHECKING:
    from ..context import ServerContext


def _query_json(query: dict[str, Any]) -> dict[str, str]:
    """A query as Orthanc shows it in the job's content: its tags as "gggg,eeee", with its level."""
    fields = {"0008,0052": "IMAGE" if query["Level"].upper() == "INSTANCE" else query["Level"].upper()}
    for key, value in query["Query"].items():
        tag = parse_tag(key)
        fields[format_tag(tag) if tag is not None else key] = value
    return dict(sorted(fields.items()))


@job_type
class DicomMoveScuJob(Job):
    """``queries``: each ``{"Level": ..., "Query": {keyword: value}}`` with the identifiers of one
    resource. An empty ``target_aet`` with ``method`` C-GET retrieves into this server."""

    job_type = "DicomMoveScu"

    def __init__(
        self,
        modality: RemoteModality,
        queries: list[dict[str, Any]],
        *,
        local_aet: str,
        target_aet: str,
        method: str = "C-MOVE",
        description: str = "REST API",
        position: int = 0,
    ) -> None:
        self.modality = modality
        self.queries = queries
        self.local_aet = local_aet
        self.target_aet = target_aet
        self.method = method
        self.description = description
        self.position = position

    @classmethod
    def from_parameters(cls, p: dict[str, Any]) -> Job:
        return cls(
            modality_of_parameters(p),
            list(p["Queries"]),
            local_aet=p["LocalAet"],
            target_aet=p["TargetAet"],
            method=p.get("Method", "C-MOVE"),
            description=p.get("Description", ""),
            position=int(p.get("Position", 0)),
        )

    def parameters(self) -> dict[str, Any]:
        return {
            **modality_parameters(self.modality, self.local_aet),
            "Queries": self.queries,
            "TargetAet": self.target_aet,
            "Method": self.method,
            "Description": self.description,
            "Position": self.position,
        }

    def content(self) -> dict[str, Any]:
        content = {
            "Description": self.description,
            **modality_content(self.modality, self.local_aet),
            "TargetAet": self.target_aet,
            "Query": [_query_json(q) for q in self.queries],
        }
        if self.method == "C-GET":  # no target: the instances come back on the association
            del content["TargetAet"]
        return content

    def progress(self) -> float:
        return self.position / len(self.queries) if self.queries else 1.0

    def reset(self) -> None:
        self.position = 0

    async def step(self, context: ServerContext, job_id: str) -> bool:
        if self.position < len(self.queries):
            query = self.queries[self.position]
            if self.method == "C-GET":
                await scu.get(context, self.modality, query["Level"], query["Query"])
            else:
                await scu.move(context, self.modality, query["Level"], query["Query"], self.target_aet)
            self.position += 1
        return self.position >= len(self.queries)


@job_type
class DicomGetScuJob(DicomMoveScuJob):
    """Orthanc's ``DicomGetScu``: the same queries, retrieved by C-GET into this server."""

    job_type = "DicomGetScu"


def retrieve_job(
    modality: RemoteModality, queries: list[dict[str, Any]], *, local_aet: str, target_aet: str, method: str
) -> DicomMoveScuJob:
    """The job retrieving ``queries`` with ``method`` (C-MOVE to ``target_aet``, or C-GET)."""
    if method == "C-GET":
        return DicomGetScuJob(modality, queries, local_aet=local_aet, target_aet="", method=method)
    return DicomMoveScuJob(modality, queries, local_aet=local_aet, target_aet=target_aet, method=method)
