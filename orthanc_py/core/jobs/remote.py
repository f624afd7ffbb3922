"""What the job types towards a modality (``DicomModalityStore``, ``DicomMoveScu``) save and show
of it: the modality itself (so that a resumed job reaches the same one even if the registry has
changed since) and our AET towards it."""

from __future__ import annotations

from typing import Any

from ...net.modalities import RemoteModality


def modality_parameters(modality: RemoteModality, local_aet: str) -> dict[str, Any]:
    return {"Remote": modality.to_json(), "RemoteName": modality.name, "LocalAet": local_aet}


def modality_of_parameters(p: dict[str, Any]) -> RemoteModality:
    return RemoteModality.from_json(p.get("RemoteName", ""), p["Remote"])


def modality_content(modality: RemoteModality, local_aet: str) -> dict[str, Any]:
    """The ``LocalAet`` and ``RemoteAet`` of the job's public content, as Orthanc shows them."""
    return {"LocalAet": local_aet, "RemoteAet": modality.aet}
