"""The DICOMweb route table, mounted under the configured ``Root`` (and ``WadoRoot`` for WADO-URI)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import Settings
from ..core.dicom_tags import TAG_SERIES_INSTANCE_UID, TAG_STUDY_INSTANCE_UID
from ..core.identifiers import ResourceLevel
from ..rest.responses import dump_json
from . import client, rendered, servers, stow, wado, wado_uri
from .config import DicomWebConfig, dicomweb_config
from .multipart import parse_media_type
from .qido import QidoQuery, search


def _qido(level: ResourceLevel):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        query = QidoQuery.parse(request.query_params.multi_items())
        study = request.path_params.get("study")
        if study is not None:
            query.add_filter(TAG_STUDY_INSTANCE_UID, study, from_path=True)
        series = request.path_params.get("series")
        if series is not None:
            query.add_filter(TAG_SERIES_INSTANCE_UID, series, from_path=True)
        config = dicomweb_config(request)
        answers = await search(
            request.app.state.context, level, query, config.base_url(request), config.qido_case_sensitive
        )
        if _qido_wants_xml(request.headers.get("accept", "")):
            return wado.xml_answer(answers)
        return Response(dump_json(answers), media_type="application/dicom+json")

    return endpoint


def _qido_wants_xml(accept: str) -> bool:
    """QIDO-RS answers XML to ``Accept: application/dicom+xml`` (as a multipart body, as the plugin),
    unless DICOM JSON is acceptable too."""
    media = [parse_media_type(entry)[0] for entry in accept.split(",")]
    json = {"application/json", "application/dicom+json", "*/*"}
    return "application/dicom+xml" in media and not json.intersection(media)


def dicomweb_routes(settings: Settings) -> list[Route]:
    config = DicomWebConfig.from_settings(settings)
    if not config.enable:
        return []
    root = config.root.rstrip("/")
    study = f"{root}/studies/{{study}}"
    series = f"{study}/series/{{series}}"
    instance = f"{series}/instances/{{instance}}"
    routes = [
        Route(f"{root}/studies", _qido(ResourceLevel.STUDY), methods=["GET"]),
        Route(f"{root}/studies", stow.stow, methods=["POST"]),
        Route(f"{root}/series", _qido(ResourceLevel.SERIES), methods=["GET"]),
        Route(f"{root}/instances", _qido(ResourceLevel.INSTANCE), methods=["GET"]),
        Route(study, wado.retrieve, methods=["GET"]),
        Route(study, stow.stow, methods=["POST"]),
        Route(f"{study}/metadata", wado.metadata, methods=["GET"]),
        Route(f"{study}/series", _qido(ResourceLevel.SERIES), methods=["GET"]),
        Route(f"{study}/instances", _qido(ResourceLevel.INSTANCE), methods=["GET"]),
        Route(series, wado.retrieve, methods=["GET"]),
        Route(f"{series}/metadata", wado.metadata, methods=["GET"]),
        Route(f"{series}/instances", _qido(ResourceLevel.INSTANCE), methods=["GET"]),
        Route(instance, wado.retrieve, methods=["GET"]),
        Route(f"{instance}/metadata", wado.metadata, methods=["GET"]),
        Route(f"{instance}/frames/{{frames}}", wado.frames, methods=["GET"]),
        Route(f"{instance}/bulk/{{path:path}}", wado.bulk, methods=["GET"]),
    ]
    for resource in (study, series, instance, f"{instance}/frames/{{frame:int}}"):
        routes.append(Route(f"{resource}/rendered", rendered.rendered, methods=["GET"]))
        routes.append(Route(f"{resource}/thumbnail", rendered.thumbnail, methods=["GET"]))
    named = f"{root}/servers/{{name}}"
    routes += [
        Route(f"{root}/servers", servers.list_servers, methods=["GET"]),
        Route(named, servers.get_server, methods=["GET"]),
        Route(named, servers.put_server, methods=["PUT"]),
        Route(named, servers.delete_server, methods=["DELETE"]),
        Route(f"{named}/qido", client.qido, methods=["POST"]),
        Route(f"{named}/get", client.get, methods=["POST"]),
        Route(f"{named}/wado", client.wado, methods=["POST"]),
        Route(f"{named}/stow", client.stow, methods=["POST"]),
        Route(f"{named}/retrieve", client.retrieve, methods=["POST"]),
    ]
    if config.enable_wado:
        routes.append(Route(config.wado_root, wado_uri.wado_uri, methods=["GET"]))
    return routes
