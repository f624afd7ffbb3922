"""``DicomMoveScu``: retrieve resources from a modality, one C-MOVE (or C-GET) per query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...net import scu
from ...net.modalities import RemoteModality
from .model import Job, job_type
from .remote import modality_content, modality_of_parameters, modality_parameters

if TYPE_CHECKING:
    from ..context import ServerContext


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
        return {
            "Description": self.description,
            **modality_content(self.modality, self.local_aet),
            "TargetAet": self.target_aet,
            "Query": [dict(q["Query"], QueryRetrieveLevel=q["Level"].upper()) for q in self.queries],
        }

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
