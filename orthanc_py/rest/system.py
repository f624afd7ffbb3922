"""``/system`` and ``/statistics`` (Orthanc's OrthancRestSystem.cpp)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import ORTHANC_VERSION, __version__
from ..core.identifiers import ResourceLevel
from ..core.ingest import MAIN_TAGS_SIGNATURE
from .context_access import context_of
from .responses import OrthancJSONResponse

# Clients (Orthanc Explorer 2, Stone) switch features on ApiVersion, so it names the newest Orthanc
# release whose whole REST surface is implemented, not the release whose JSON shapes are matched
# (``Version``). Families still missing (jobs, modalities, peers, archives, modification) keep
# it at the floor; it is raised as they land.
API_VERSION = 1


async def get_system(request: Request) -> Response:
    context = context_of(request)
    s = context.settings
    main_tags = {level.title: MAIN_TAGS_SIGNATURE[level] for level in ResourceLevel}
    return OrthancJSONResponse(
        {
            "ApiVersion": API_VERSION,
            "Capabilities": {"HasExtendedChanges": False, "HasExtendedFind": False},
            "CheckRevisions": False,
            "DatabaseBackendPlugin": None,
            "DatabaseServerIdentifier": context.server_identifier,
            "DatabaseVersion": 6,
            "DefaultRetrieveMethod": "C-MOVE",
            "DicomAet": s.dicom_aet,
            "DicomPort": s.dicom_port,
            "HasLabels": True,
            "HttpPort": s.http_port,
            "IngestTranscoding": "",
            "IsHttpServerSecure": True,
            "MainDicomTags": main_tags,
            "MaximumPatientCount": s.maximum_patient_count,
            "MaximumStorageMode": "Recycle",
            "MaximumStorageSize": s.maximum_storage_size,
            "Name": s.name,
            "OverwriteInstances": s.overwrite_instances,
            "PluginsEnabled": True,
            "ReadOnly": s.read_only,
            "StorageAreaPlugin": None,
            "StorageCompression": s.storage_compression,
            "UserMetadata": {},
            "Version": ORTHANC_VERSION,
            "Implementation": {"Name": "orthanc_py", "Version": __version__},
        }
    )


async def get_statistics(request: Request) -> Response:
    context = context_of(request)
    async with context.index.transaction() as tx:
        counts = {level: await tx.count_resources(level) for level in ResourceLevel}
        totals = await tx.size_totals(None)
    mb = 1024 * 1024
    return OrthancJSONResponse(
        {
            "CountPatients": counts[ResourceLevel.PATIENT],
            "CountStudies": counts[ResourceLevel.STUDY],
            "CountSeries": counts[ResourceLevel.SERIES],
            "CountInstances": counts[ResourceLevel.INSTANCE],
            "TotalDiskSize": str(totals.disk_size),
            "TotalDiskSizeMB": totals.disk_size // mb,
            "TotalUncompressedSize": str(totals.uncompressed_size),
            "TotalUncompressedSizeMB": totals.uncompressed_size // mb,
        }
    )


routes = [
    Route("/system", get_system, methods=["GET"]),
    Route("/statistics", get_statistics, methods=["GET"]),
]
