"""Orthanc's SetOfInstancesJob: one step per instance, the base of the store jobs."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from ..errors import OrthancError
from .model import Job

if TYPE_CHECKING:
    from ..context import ServerContext


class SetOfInstancesJob(Job):
    """``Permissive``: an instance that fails is counted in ``FailedInstancesCount`` and skipped,
    instead of failing the job."""

    def __init__(
        self,
        instances: list[str],
        *,
        description: str = "",
        permissive: bool = False,
        parent_resources: list[str] | None = None,
        position: int = 0,
        failed: list[str] | None = None,
    ) -> None:
        self.instances = instances
        self.description = description
        self.permissive = permissive
        self.parent_resources = parent_resources or []
        self.position = position
        self.failed = failed or []

    @classmethod
    def common_parameters(cls, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "description": p.get("Description", ""),
            "permissive": bool(p.get("Permissive", False)),
            "parent_resources": list(p.get("ParentResources", [])),
            "position": int(p.get("Position", 0)),
            "failed": list(p.get("FailedInstances", [])),
        }

    def parameters(self) -> dict[str, Any]:
        return {
            "Instances": self.instances,
            "Description": self.description,
            "Permissive": self.permissive,
            "ParentResources": self.parent_resources,
            "Position": self.position,
            "FailedInstances": self.failed,
        }

    def content(self) -> dict[str, Any]:
        content: dict[str, Any] = {
            "Description": self.description,
            "InstancesCount": len(self.instances),
            "FailedInstancesCount": len(self.failed),
        }
        if self.parent_resources:
            content["ParentResources"] = sorted(self.parent_resources)
        return content

    def progress(self) -> float:
        return self.position / len(self.instances) if self.instances else 1.0

    def reset(self) -> None:
        self.position = 0
        self.failed = []

    async def step(self, context: ServerContext, job_id: str) -> bool:
        if self.position < len(self.instances):
            instance = self.instances[self.position]
            try:
                ok = await self.handle_instance(context, instance)
            except OrthancError:
                if not self.permissive:
                    raise
                ok = False
            if not ok:
                self.failed.append(instance)
            self.position += 1
        return self.position >= len(self.instances)

    @abstractmethod
    async def handle_instance(self, context: ServerContext, instance_id: str) -> bool:
        """Process one instance; False (or an error, when permissive) marks it as failed."""
