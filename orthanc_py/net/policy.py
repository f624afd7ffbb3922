"""Who may talk to the DICOM server: Orthanc's application entity filter.

* The association is rejected when ``DicomCheckCalledAet`` is set and the called AET is not
  ``DicomAet`` ("called AE title not recognised").
* It is rejected when no ``DicomAlwaysAllow*`` option is set and the calling AET is not a known
  modality (at its declared host, with ``DicomCheckModalityHost``) ("calling AE title not
  recognised").
* Each request is then checked: allowed if ``DicomAlwaysAllow<Request>`` is set, or if a known
  modality with that AET (and host) has ``Allow<Request>``. A refused request aborts the
  association, as Orthanc's DCMTK-based server does.

AETs compare case-insensitively unless ``StrictAetComparison``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pydicom.uid import UID
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import SOPClassCommonExtendedNegotiation

from .modalities import same_aet
from .presentation import (
    QUERY_RETRIEVE_CLASSES,
    STORAGE_CLASSES,
    accepted_storage_syntaxes,
    acceptor_contexts,
)

if TYPE_CHECKING:
    from ..config import Settings
    from .modalities import ModalityRegistry

logger = logging.getLogger(__name__)

STORAGE_SERVICE_CLASS = UID("1.2.840.10008.4.2")
REJECTED_PERMANENT = 0x01
SERVICE_USER = 0x01
CALLING_AET_NOT_RECOGNISED = 0x03
CALLED_AET_NOT_RECOGNISED = 0x07

_ALWAYS_ALLOW = {
    "Echo": "dicom_always_allow_echo",
    "Store": "dicom_always_allow_store",
    "Find": "dicom_always_allow_find",
    "FindWorklist": "dicom_always_allow_find_worklist",
    "Get": "dicom_always_allow_get",
    "Move": "dicom_always_allow_move",
}


class AssociationPolicy:
    def __init__(
        self, settings: Settings, registry: ModalityRegistry, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.loop = loop
        self.storage_syntaxes = accepted_storage_syntaxes(settings)

    def is_my_aet(self, called_aet: str) -> bool:
        if not self.settings.dicom_check_called_aet:
            return True
        strict = self.settings.strict_aet_comparison
        return same_aet(called_aet.strip(), self.settings.dicom_aet, strict=strict)

    async def _known(self, remote_ip: str, remote_aet: str) -> list[Any]:
        host = remote_ip if self.settings.dicom_check_modality_host else None
        return await self.registry.find_by_aet(remote_aet.strip(), host)

    async def is_allowed_connection(self, remote_ip: str, remote_aet: str) -> bool:
        if any(getattr(self.settings, option) for option in _ALWAYS_ALLOW.values()):
            return True
        return bool(await self._known(remote_ip, remote_aet))

    async def is_allowed_request(self, assoc: Association, request: str) -> bool:
        option = _ALWAYS_ALLOW.get(request)
        if option is not None and getattr(self.settings, option):
            return True
        remote_ip = assoc.requestor.address
        remote_aet = assoc.requestor.ae_title
        if any(m.is_request_allowed(request) for m in await self._known(remote_ip, remote_aet)):
            return True
        logger.warning(
            'Rejected %s request from remote DICOM modality with AET "%s" and hostname "%s"',
            request,
            remote_aet,
            remote_ip,
        )
        return False

    def on_association_requested(self, event: evt.Event) -> None:
        """EVT_REQUESTED, in the association's thread: reject, or choose the contexts to accept."""
        assoc = event.assoc
        request = assoc.requestor.primitive
        assert request is not None  # EVT_REQUESTED comes with the A-ASSOCIATE request
        calling = str(request.calling_ae_title).strip()
        called = str(request.called_ae_title).strip()
        remote_ip = assoc.requestor.address
        if not self.is_my_aet(called):
            logger.warning("Rejected association, because of a bad called AET in the request (%s)", called)
            self._reject(assoc, CALLED_AET_NOT_RECOGNISED)
            return
        allowed = asyncio.run_coroutine_threadsafe(self.is_allowed_connection(remote_ip, calling), self.loop)
        if not allowed.result():
            logger.warning("Rejected association for remote AET %s on IP %s", calling, remote_ip)
            self._reject(assoc, CALLING_AET_NOT_RECOGNISED)
            return
        assoc.acceptor.supported_contexts = acceptor_contexts(
            list(request.presentation_context_definition_list),
            self.storage_syntaxes,
            unknown_sop_class_accepted=self.settings.unknown_sop_class_accepted,
        )

    def on_association_accepted(self, event: evt.Event) -> None:
        """EVT_ACCEPTED: with ``UnknownSopClassAccepted``, route C-STOREs of SOP classes that
        pynetdicom does not know to its storage service, as if the peer had declared them storage
        classes (SOP Class Common Extended Negotiation), without accepting any other syntax."""
        if not self.settings.unknown_sop_class_accepted:
            return
        acceptor = event.assoc.acceptor
        for context in event.assoc.accepted_contexts:
            uid = UID(str(context.abstract_syntax))
            if uid in STORAGE_CLASSES or uid in QUERY_RETRIEVE_CLASSES:
                continue
            item = SOPClassCommonExtendedNegotiation()
            item.sop_class_uid = uid
            item.service_class_uid = STORAGE_SERVICE_CLASS
            acceptor._common_ext[uid] = item

    @staticmethod
    def _reject(assoc: Association, diagnostic: int) -> None:
        assoc.acse.send_reject(REJECTED_PERMANENT, SERVICE_USER, diagnostic)
        assoc.is_rejected = True
        assoc.kill()
