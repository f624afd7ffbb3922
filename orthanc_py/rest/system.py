"""``/system`` and ``/statistics`` (Orthanc's OrthancRestSystem.cpp)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import ORTHANC_VERSION, __version__
from ..core.identifiers import ResourceLevel
from .context_access import context_of
from .responses import OrthancJSONResponse

# The ApiVersion of the Orthanc release whose REST API orthanc_py answers; clients such as
# Orthanc Explorer 2 and Stone switch features on this number, so it is raised only when the
# corresponding routes are implemented.
API_VERSION = 27


async def get_system(request: Request) -> Response:
    context = context_of(request)
    s = context.settings
    main_tags = {}
    from ..core.dicom_tags import MAIN_DICOM_TAGS

    for level in ResourceLevel:
        main_tags[level.title] = ";".join(name for _, name in MAIN_DICOM_TAGS[level])
    return OrthancJSONResponse(
        {
            "ApiVersion": API_VERSION,
            "CheckRevisions": False,
            "DatabaseBackendPlugin": None,
            "DatabaseServerIdentifier": "Orthanc",
            "DatabaseVersion": 6,
            "DicomAet": s.dicom_aet,
            "DicomPort": s.dicom_port,
            "HasLabels": False,
            "HttpPort": s.http_port,
            "IngestTranscoding": "",
            "IsHttpServerSecure": True,
            "MainDicomTags": main_tags,
            "MaximumPatientCount": s.maximum_patient_count,
            "MaximumStorageMode": "Recycle",
            "MaximumStorageSize": s.maximum_storage_size,
            "Name": s.name,
            "OverwriteInstances": s.overwrite_instances,
            "PluginsEnabled": False,
            "ReadOnly": False,
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
