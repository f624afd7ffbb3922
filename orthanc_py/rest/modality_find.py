"""The C-FIND routes of ``/modalities/{id}`` that answer at once (no ``/queries`` kept): the older
``find-patient`` ... ``find-instance``, the hierarchical ``find`` (patients, each with its studies,
each with its series), and ``find-worklist`` (Orthanc's OrthancRestModalities.cpp).

The older routes query with Orthanc's templates (``DicomMap::SetupFind*Template``): the main DICOM
tags of the level as empty return keys, merged with the body, then only the tags of that level
(and the identifiers of the levels above) are sent."""

from __future__ import annotations

from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.dicom_tags import MAIN_DICOM_TAGS, format_tag, parse_tag
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..net import scu
from .context_access import context_of
from .modalities import answer_json, json_body, modality_of
from .responses import OrthancJSONResponse

PATIENT_ID = 0x00100020
ACCESSION_NUMBER = 0x00080050
MODALITIES_IN_STUDY = 0x00080061
STUDY_INSTANCE_UID = 0x0020000D
SERIES_INSTANCE_UID = 0x0020000E

# Main tags that Orthanc leaves out of its C-FIND templates (not in the level's DICOM module).
_NOT_IN_TEMPLATE = {
    ResourceLevel.STUDY: {0x00080080, 0x00321032, 0x00321060},
    ResourceLevel.SERIES: {
        0x00080070, 0x00081010, 0x00180024, 0x00181090, 0x00201002, 0x00540081, 0x00200105,
        0x00540101, 0x00200037, 0x00541000, 0x00181400, 0x00180010, 0x00400244, 0x00400245,
        0x00400275,
    },
}  # fmt: skip
# The identifiers of the levels above, which Orthanc copies into the query of each level.
_ABOVE = {
    ResourceLevel.PATIENT: (),
    ResourceLevel.STUDY: (PATIENT_ID, ACCESSION_NUMBER, MODALITIES_IN_STUDY),
    ResourceLevel.SERIES: (PATIENT_ID, ACCESSION_NUMBER, STUDY_INSTANCE_UID),
    ResourceLevel.INSTANCE: (PATIENT_ID, ACCESSION_NUMBER, STUDY_INSTANCE_UID, SERIES_INSTANCE_UID),
}
_LEVEL_NAMES = {
    ResourceLevel.PATIENT: "Patient",
    ResourceLevel.STUDY: "Study",
    ResourceLevel.SERIES: "Series",
    ResourceLevel.INSTANCE: "Instance",
}

Fields = dict[int, str]


def _template(level: ResourceLevel) -> Fields:
    fields = {tag: "" for tag, _ in MAIN_DICOM_TAGS[level] if tag not in _NOT_IN_TEMPLATE.get(level, ())}
    for tag in _ABOVE[level]:
        if tag != MODALITIES_IN_STUDY:
            fields[tag] = ""
    return fields


def _user_fields(body: Any) -> Fields:
    """The body of the older routes: ``{tag or keyword: value}``."""
    if not isinstance(body, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "The body must be a JSON object")
    fields: Fields = {}
    for key, value in body.items():
        tag = parse_tag(key)
        if tag is None:
            raise OrthancError(ErrorCode.BadRequest, f"Unknown DICOM tag: {key}")
        if not isinstance(value, str):
            raise OrthancError(ErrorCode.BadFileFormat, f"The value of {key} must be a string")
        fields[tag] = value
    return fields


def _level_query(level: ResourceLevel, fields: Fields) -> dict[str, str]:
    """Orthanc's Find{Patient,Study,Series,Instance}: the tags of the level, the identifiers above."""
    level_tags = {tag for tag, _ in MAIN_DICOM_TAGS[level]}
    kept = {tag: value for tag, value in fields.items() if tag in level_tags or tag in _ABOVE[level]}
    # Keywords where there is one, as the SCU adds the identifiers it needs by keyword.
    return {keyword_for_tag(tag) or format_tag(tag): value for tag, value in kept.items()}


async def _find(request: Request, level: ResourceLevel, fields: Fields) -> list[Dataset]:
    return await scu.find(
        context_of(request), await modality_of(request), _LEVEL_NAMES[level], _level_query(level, fields)
    )


def _too_vague(level: ResourceLevel, fields: Fields) -> bool:
    """Orthanc refuses (a bare 400) a find below the patient level without a patient or an
    accession number of more than 2 characters, or without the UIDs of the levels above."""
    if level is ResourceLevel.PATIENT:
        return False
    if len(fields.get(ACCESSION_NUMBER, "")) <= 2 and len(fields.get(PATIENT_ID, "")) <= 2:
        return True
    if level >= ResourceLevel.SERIES and len(fields.get(STUDY_INSTANCE_UID, "")) <= 2:
        return True
    return level is ResourceLevel.INSTANCE and len(fields.get(SERIES_INSTANCE_UID, "")) <= 2


def _find_route(level: ResourceLevel) -> Any:
    async def find(request: Request) -> Response:
        """The older C-FIND routes: the answers, simplified (Orthanc's DicomFind*)."""
        fields = _template(level) | _user_fields(await json_body(request))
        if _too_vague(level, fields):
            return Response(status_code=400)
        answers = await _find(request, level, fields)
        return OrthancJSONResponse([answer_json(a, "simplify") for a in answers])

    find.__name__ = f"find_{_LEVEL_NAMES[level].lower()}"
    return find


def _answer_value(answer: Dataset, tag: int) -> str | None:
    element = answer.get(tag)
    if element is None or element.value is None:
        return None
    return str(element.value)


async def find_hierarchy(request: Request) -> Response:
    """``/modalities/{id}/find``: the matching patients, each with its ``Studies``, each with its
    ``Series`` (Orthanc's DicomFind); the body filters every level."""
    user = _user_fields(await json_body(request))
    result = []
    for patient in await _find(request, ResourceLevel.PATIENT, _template(ResourceLevel.PATIENT) | user):
        patient_json = answer_json(patient, "simplify")
        fields = _template(ResourceLevel.STUDY) | user
        if (patient_id := _answer_value(patient, PATIENT_ID)) is not None:
            fields[PATIENT_ID] = patient_id
        studies = []
        for study in await _find(request, ResourceLevel.STUDY, fields):
            study_json = answer_json(study, "simplify")
            series_fields = _template(ResourceLevel.SERIES) | user
            for tag in (PATIENT_ID, STUDY_INSTANCE_UID):
                if (value := _answer_value(study, tag)) is not None:
                    series_fields[tag] = value
            series = await _find(request, ResourceLevel.SERIES, series_fields)
            study_json["Series"] = [answer_json(s, "simplify") for s in series]
            studies.append(study_json)
        patient_json["Studies"] = studies
        result.append(patient_json)
    return OrthancJSONResponse(result)


# --- worklists


def _element_value(tag: int, value: Any) -> tuple[str, Any]:
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        vr = "LO"
    if isinstance(value, list):
        if not all(isinstance(item, dict) for item in value):
            raise OrthancError(ErrorCode.BadFileFormat, "A sequence must be an array of objects")
        return "SQ", Sequence([dataset_from_json(item) for item in value])
    if isinstance(value, dict):  # one item, as Orthanc also accepts
        return "SQ", Sequence([dataset_from_json(value)])
    if not isinstance(value, str):
        raise OrthancError(ErrorCode.BadFileFormat, f"Bad value for tag {format_tag(tag)}")
    if vr == "SQ":
        return vr, Sequence([])
    return vr, value if value != "" else None


def dataset_from_json(value: dict[str, Any]) -> Dataset:
    """A C-FIND identifier from ``{tag or keyword: string, or array of objects (a sequence)}``."""
    dataset = Dataset()
    for key, item in value.items():
        tag = parse_tag(key)
        if tag is None:
            raise OrthancError(ErrorCode.BadRequest, f"Unknown DICOM tag: {key}")
        vr, element = _element_value(tag, item)
        dataset.add_new(tag, vr, element)
    return dataset


def _answer_shape(body: dict[str, Any]) -> str:
    for name, shape in (("Full", "full"), ("Short", "short")):
        flag = body.get(name, False)
        if not isinstance(flag, bool):
            raise OrthancError(ErrorCode.BadFileFormat, f'The field "{name}" must be a Boolean')
        if flag:
            return shape
    return "simplify"


async def find_worklist(request: Request) -> Response:
    """``/modalities/{id}/find-worklist``: ``{"Query": {...}, "Full"/"Short"}``, or (before Orthanc
    1.9.5) the query itself as the body, always answered simplified."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise OrthancError(ErrorCode.BadFileFormat, "Must provide a JSON object")
    if "Query" in body:
        if not isinstance(body["Query"], dict):
            raise OrthancError(ErrorCode.BadFileFormat, 'The field "Query" must be a JSON object')
        query, shape = dataset_from_json(body["Query"]), _answer_shape(body)
    else:
        query, shape = dataset_from_json(body), "simplify"
    context = context_of(request)
    answers = await scu.find_worklist(context, await modality_of(request, body), query)
    return OrthancJSONResponse([answer_json(a, shape) for a in answers])


routes = [
    Route("/modalities/{id}/find-patient", _find_route(ResourceLevel.PATIENT), methods=["POST"]),
    Route("/modalities/{id}/find-study", _find_route(ResourceLevel.STUDY), methods=["POST"]),
    Route("/modalities/{id}/find-series", _find_route(ResourceLevel.SERIES), methods=["POST"]),
    Route("/modalities/{id}/find-instance", _find_route(ResourceLevel.INSTANCE), methods=["POST"]),
    Route("/modalities/{id}/find", find_hierarchy, methods=["POST"]),
    Route("/modalities/{id}/find-worklist", find_worklist, methods=["POST"]),
]
