"""The ``DicomWeb`` section of the configuration, with the defaults of the Orthanc DICOMweb plugin."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ..config import Settings
from ..core.dicom_tags import parse_tag

logger = logging.getLogger(__name__)

METADATA_MODES = ("Full", "MainDicomTags", "Extrapolate")


def _folder(path: str) -> str:
    """``dicom-web`` → ``/dicom-web/``: the plugin always works with both slashes."""
    path = "/" + path.strip("/")
    return path if path == "/" else path + "/"


def _metadata_mode(section: dict[str, Any], key: str) -> str:
    mode = str(section.get(key, "Full"))
    if mode not in METADATA_MODES:
        # The plugin refuses to start; a server that answers "Full" is the safer mistake here.
        logger.error('Bad value for "DicomWeb.%s": %s (using "Full")', key, mode)
        return "Full"
    return mode


def _tags(section: dict[str, Any], key: str) -> tuple[int, ...]:
    names = section.get(key) or []
    tags = [parse_tag(str(n)) for n in names] if isinstance(names, list) else []
    return tuple(t for t in tags if t is not None)


@dataclass(frozen=True)
class DicomWebConfig:
    enable: bool = True
    root: str = "/dicom-web/"
    enable_wado: bool = True
    wado_root: str = "/wado"
    host: str = ""
    ssl: bool = False
    public_root: str = ""
    qido_case_sensitive: bool | None = None
    studies_metadata: str = "Full"
    series_metadata: str = "Full"
    studies_extrapolated_tags: tuple[int, ...] = ()
    series_extrapolated_tags: tuple[int, ...] = ()
    servers: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_settings(settings: Settings) -> DicomWebConfig:
        section = settings.dicom_web or {}
        root = _folder(str(section.get("Root", "/dicom-web/")))
        case = section.get("QidoCaseSensitive")
        return DicomWebConfig(
            enable=bool(section.get("Enable", True)),
            root=root,
            enable_wado=bool(section.get("EnableWado", True)),
            wado_root="/" + str(section.get("WadoRoot", "/wado")).strip("/"),
            host=str(section.get("Host", "")),
            ssl=bool(section.get("Ssl", False)),
            public_root=_folder(str(section["PublicRoot"])) if section.get("PublicRoot") else root,
            qido_case_sensitive=case if isinstance(case, bool) else None,
            studies_metadata=_metadata_mode(section, "StudiesMetadata"),
            series_metadata=_metadata_mode(section, "SeriesMetadata"),
            studies_extrapolated_tags=_tags(section, "StudiesMetadataExtrapolatedTags"),
            series_extrapolated_tags=_tags(section, "SeriesMetadataExtrapolatedTags"),
            servers=dict(section.get("Servers") or {}),
        )

    def base_url(self, request: Request) -> str:
        """The public URL of the DICOMweb root as the client sees it (``RetrieveURL``, BulkDataURI):
        ``Host``/``Ssl`` from the configuration, else the ``Forwarded``/``X-Forwarded-*``/``Host``
        headers of the request, as the plugin computes it."""
        host, proto = self.host, "https" if self.ssl else "http"
        headers = request.headers
        if not host:
            forwarded = headers.get("forwarded")
            if forwarded:
                for part in forwarded.split(",")[0].split(";"):
                    key, _, value = part.strip().partition("=")
                    if key.lower() == "host":
                        host = value.strip('"')
                    elif key.lower() == "proto":
                        proto = value.strip('"')
        if not host and headers.get("x-forwarded-host"):
            host = headers["x-forwarded-host"]
            proto = headers.get("x-forwarded-proto", proto)
        if not host:
            host = headers.get("host", "")
        if not host:
            server = request.scope.get("server") or ("localhost", 8042)
            host = f"{server[0]}:{server[1]}"
        return f"{proto}://{host}{self.public_root}"


def dicomweb_config(request: Request) -> DicomWebConfig:
    config: DicomWebConfig | None = getattr(request.app.state, "dicomweb", None)
    if config is None:
        config = DicomWebConfig.from_settings(request.app.state.context.settings)
        request.app.state.dicomweb = config
    return config
