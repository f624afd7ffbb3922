"""Remote DICOM modalities: their parameters (Orthanc's ``RemoteModalityParameters``) and the registry.

A modality is declared in ``DicomModalities`` either in the short array form
``["AET", "host", port (, "Manufacturer")]`` or in the object form (``AET``, ``Host``, ``Port``,
``Manufacturer``, ``AllowEcho``, ...). Orthanc always answers the object form over REST.

Where the registry lives:

* ``DicomModalitiesInDatabase`` false: the configuration file. ``put``/``delete`` change this
  process's copy of it, as Orthanc changes its in-memory configuration; with several server
  processes (``HttpProcesses`` > 1) such a change is therefore seen by one process only, and lost
  on restart — exactly as a change to Orthanc's configuration is lost on restart. Declare the
  modalities in the file, or keep them in the index, when that matters.
* ``DicomModalitiesInDatabase`` true: the ``modalities`` table of the index, shared by every
  process and node; the configuration file's ``DicomModalities`` are then ignored, as in Orthanc.
"""

from __future__ import annotations

import builtins
import json
import logging
import weakref
from dataclasses import dataclass, replace
from typing import Any

from ..core.errors import ErrorCode, OrthancError

logger = logging.getLogger(__name__)

MANUFACTURERS = ("Generic", "GenericNoWildcardInDates", "GenericNoUniversalWildcard", "Vitrea", "GE")
# Manufacturers of older Orthanc versions, still read (with a warning) as their replacement.
_OBSOLETE_MANUFACTURERS = {
    "AgfaImpax": "GenericNoWildcardInDates",
    "SyngoVia": "GenericNoWildcardInDates",
    "EFilm2": "Generic",
    "MedInria": "Generic",
    "ClearCanvas": "Generic",
    "Dcm4Chee": "Generic",
}
RETRIEVE_METHODS = ("SystemDefault", "C-MOVE", "C-GET")


@dataclass(frozen=True)
class RemoteModality:
    """One remote DICOM node. ``name`` is the symbolic name (the key in ``DicomModalities``)."""

    name: str
    aet: str
    host: str
    port: int
    manufacturer: str = "Generic"
    allow_echo: bool = True
    allow_store: bool = True
    allow_find: bool = True
    allow_find_worklist: bool = True
    allow_get: bool = True
    allow_move: bool = True
    allow_n_action: bool = True  # storage commitment requests
    allow_event_report: bool = True  # storage commitment reports
    allow_transcoding: bool = True
    use_dicom_tls: bool = False
    local_aet: str | None = None  # our AET towards this modality, instead of DicomAet
    timeout: int = 0  # seconds, 0: DicomScuTimeout
    retrieve_method: str | None = None  # "C-MOVE" / "C-GET", None: DicomDefaultRetrieveMethod

    @property
    def allow_storage_commitment(self) -> bool:
        return self.allow_n_action and self.allow_event_report

    @classmethod
    def from_json(cls, name: str, value: Any) -> RemoteModality:
        """Parse the array or object form, raising OrthancError as Orthanc does on bad input."""
        if isinstance(value, list):
            return cls._from_array(name, value)
        if isinstance(value, dict):
            return cls._from_object(name, value)
        raise OrthancError(ErrorCode.BadFileFormat)

    @classmethod
    def _from_array(cls, name: str, value: list[Any]) -> RemoteModality:
        if (
            len(value) not in (3, 4)
            or not isinstance(value[0], str)
            or not isinstance(value[1], str)
            or (len(value) == 4 and not isinstance(value[3], str))
        ):
            raise OrthancError(ErrorCode.BadFileFormat)
        manufacturer = _manufacturer(value[3]) if len(value) == 4 else "Generic"
        return cls(name, value[0], value[1], _port(value[2]), manufacturer)

    @classmethod
    def _from_object(cls, name: str, value: dict[str, Any]) -> RemoteModality:
        aet = _string(value, "AET")
        host = _string(value, "Host")
        if "Port" not in value:
            raise OrthancError(ErrorCode.BadFileFormat)
        modality = cls(name, aet, host, _port(value["Port"]))
        changes: dict[str, Any] = {}
        if "Manufacturer" in value:
            changes["manufacturer"] = _manufacturer(_string(value, "Manufacturer"))
        for key, attribute in _BOOLEAN_KEYS.items():
            if key in value:
                changes[attribute] = _boolean(value, key)
        if "AllowStorageCommitment" in value:
            allow = _boolean(value, "AllowStorageCommitment")
            changes["allow_n_action"] = changes["allow_event_report"] = allow
        if "LocalAet" in value:
            changes["local_aet"] = _string(value, "LocalAet") or None
        if "Timeout" in value:
            timeout = value["Timeout"]
            if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
                message = "Unsigned integer value expected in field: Timeout"
                raise OrthancError(ErrorCode.BadFileFormat, message)
            changes["timeout"] = timeout
        if "RetrieveMethod" in value:
            method = value["RetrieveMethod"]
            if method not in RETRIEVE_METHODS:
                raise OrthancError(
                    ErrorCode.ParameterOutOfRange,
                    f'RetrieveMethod can be "C-MOVE", "C-GET" or "SystemDefault": {method}',
                )
            changes["retrieve_method"] = None if method == "SystemDefault" else method
        return replace(modality, **changes)

    def to_json(self) -> dict[str, Any]:
        """The object form, exactly as Orthanc 1.12 answers ``/modalities?expand``."""
        return {
            "AET": self.aet,
            "AllowEcho": self.allow_echo,
            "AllowEventReport": self.allow_event_report,
            "AllowFind": self.allow_find,
            "AllowFindWorklist": self.allow_find_worklist,
            "AllowGet": self.allow_get,
            "AllowMove": self.allow_move,
            "AllowNAction": self.allow_n_action,
            "AllowStore": self.allow_store,
            "AllowTranscoding": self.allow_transcoding,
            "Host": self.host,
            "LocalAet": self.local_aet or "",
            "Manufacturer": self.manufacturer,
            "Port": self.port,
            "RetrieveMethod": self.retrieve_method or "SystemDefault",
            "Timeout": self.timeout,
            "UseDicomTls": self.use_dicom_tls,
        }

    def is_request_allowed(self, request: str) -> bool:
        """``request``: "Echo", "Store", "Find", "FindWorklist", "Get", "Move", "NAction", "NEventReport"."""
        return bool(getattr(self, _REQUEST_ATTRIBUTES[request]))


_BOOLEAN_KEYS = {
    "AllowEcho": "allow_echo",
    "AllowFind": "allow_find",
    "AllowFindWorklist": "allow_find_worklist",
    "AllowStore": "allow_store",
    "AllowGet": "allow_get",
    "AllowMove": "allow_move",
    "AllowNAction": "allow_n_action",
    "AllowEventReport": "allow_event_report",
    "AllowTranscoding": "allow_transcoding",
    "UseDicomTls": "use_dicom_tls",
}
_REQUEST_ATTRIBUTES = {
    "Echo": "allow_echo",
    "Store": "allow_store",
    "Find": "allow_find",
    "FindWorklist": "allow_find_worklist",
    "Get": "allow_get",
    "Move": "allow_move",
    "NAction": "allow_n_action",
    "NEventReport": "allow_event_report",
}


def _string(value: dict[str, Any], key: str) -> str:
    item = value.get(key)
    if not isinstance(item, str):
        raise OrthancError(ErrorCode.BadFileFormat, f"String value expected in field: {key}")
    return item


def _boolean(value: dict[str, Any], key: str) -> bool:
    item = value.get(key)
    if not isinstance(item, bool):
        raise OrthancError(ErrorCode.BadFileFormat, f"Boolean value expected in field: {key}")
    return item


def _port(value: Any) -> int:
    if isinstance(value, bool):
        raise OrthancError(ErrorCode.BadFileFormat)
    if isinstance(value, int):
        port = value
    elif isinstance(value, str):
        try:
            port = int(value)
        except ValueError:
            raise OrthancError(ErrorCode.BadFileFormat) from None
    else:
        raise OrthancError(ErrorCode.BadFileFormat)
    if not 0 < port < 65535:
        raise OrthancError(
            ErrorCode.ParameterOutOfRange, f"A TCP port number must be in range [1..65534], but found: {port}"
        )
    return port


def _manufacturer(value: str) -> str:
    if value in MANUFACTURERS:
        return value
    if value in _OBSOLETE_MANUFACTURERS:
        replacement = _OBSOLETE_MANUFACTURERS[value]
        logger.warning('The "%s" manufacturer is obsolete, using "%s" instead', value, replacement)
        return replacement
    raise OrthancError(ErrorCode.ParameterOutOfRange, f'Unknown modality manufacturer: "{value}"')


def same_aet(a: str, b: str, *, strict: bool) -> bool:
    """Orthanc's AET comparison: case-insensitive unless ``StrictAetComparison``."""
    return a == b if strict else a.upper() == b.upper()


class ModalityRegistry:
    """The known modalities, from the configuration or from the index (see the module docstring).

    ``context`` is the ServerContext (its ``settings`` and ``index``).
    """

    def __init__(self, context: Any) -> None:
        self.context = context
        self.settings = context.settings
        self.in_database = bool(self.settings.dicom_modalities_in_database)
        self._configured: dict[str, RemoteModality] = {}
        if not self.in_database:
            for name, value in (self.settings.dicom_modalities or {}).items():
                try:
                    self._configured[name] = RemoteModality.from_json(name, value)
                except OrthancError as error:
                    message = f"Bad definition of the DICOM modality {name!r}: {error.details}"
                    raise OrthancError(ErrorCode.BadFileFormat, message) from None

    async def list(self) -> list[RemoteModality]:
        """All modalities, sorted by name (Orthanc keeps them in a std::map)."""
        if not self.in_database:
            return [self._configured[name] for name in sorted(self._configured)]
        async with self.context.index.transaction() as tx:
            rows = await tx.list_modalities()
        return [RemoteModality.from_json(name, json.loads(text)) for name, text in sorted(rows.items())]

    async def get(self, name: str) -> RemoteModality:
        """The modality of that symbolic name, or OrthancError(InexistentItem) (404)."""
        for modality in await self.list():
            if modality.name == name:
                return modality
        raise OrthancError(ErrorCode.InexistentItem, f"No modality with symbolic name: {name}")

    async def lookup(self, name: str) -> RemoteModality | None:
        for modality in await self.list():
            if modality.name == name:
                return modality
        return None

    async def put(self, name: str, modality: RemoteModality) -> None:
        modality = replace(modality, name=name)
        if not self.in_database:
            self._configured[name] = modality
            return
        async with self.context.index.transaction(write=True) as tx:
            await tx.set_modality(name, json.dumps(modality.to_json()))

    async def delete(self, name: str) -> None:
        """Remove a modality; removing an unknown one is not an error (as in Orthanc)."""
        if not self.in_database:
            self._configured.pop(name, None)
            return
        async with self.context.index.transaction(write=True) as tx:
            await tx.delete_modality(name)

    async def find_by_aet(self, aet: str, host: str | None = None) -> builtins.list[RemoteModality]:
        """The modalities with that AET (``StrictAetComparison`` decides the case), and at that
        host when ``host`` is given (``DicomCheckModalityHost``)."""
        strict = self.settings.strict_aet_comparison
        return [
            m
            for m in await self.list()
            if same_aet(m.aet, aet, strict=strict) and (host is None or m.host == host)
        ]


_REGISTRIES: weakref.WeakKeyDictionary[Any, ModalityRegistry] = weakref.WeakKeyDictionary()


def registry_for(context: Any) -> ModalityRegistry:
    """The one registry of a ServerContext (REST routes, jobs and the DICOM server share it, so
    that a modality PUT over REST is known to the DICOM server of the same process)."""
    registry = _REGISTRIES.get(context)
    if registry is None:
        registry = _REGISTRIES[context] = ModalityRegistry(context)
    return registry
