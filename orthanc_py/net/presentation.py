"""Presentation contexts: which SOP classes and transfer syntaxes the DICOM server accepts.

Orthanc accepts C-ECHO, C-FIND, C-MOVE, C-GET and storage commitment with the uncompressed
syntaxes, and every storage SOP class with the syntaxes of ``AcceptedTransferSyntaxes`` (UIDs,
``*``/``?`` wildcards allowed), or — when that option is absent — the uncompressed syntaxes plus
the groups whose ``*TransferSyntaxAccepted`` boolean is true. ``UnknownSopClassAccepted`` extends
the storage syntaxes to SOP classes that are not known storage classes.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from pynetdicom import build_context
from pynetdicom.presentation import (
    AllStoragePresentationContexts,
    PresentationContext,
    StoragePresentationContexts,
)

if TYPE_CHECKING:
    from ..config import Settings

VERIFICATION = "1.2.840.10008.1.1"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
PATIENT_ROOT_GET = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"

IMPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
EXPLICIT_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
UNCOMPRESSED_SYNTAXES = (EXPLICIT_LITTLE_ENDIAN, IMPLICIT_LITTLE_ENDIAN)
# Orthanc's preference when several are proposed: explicit little endian first.
GENERIC_SYNTAXES = [EXPLICIT_LITTLE_ENDIAN, EXPLICIT_BIG_ENDIAN, IMPLICIT_LITTLE_ENDIAN]

_JPEG = [f"1.2.840.10008.1.2.4.{n}" for n in (*range(50, 67), 70)]
# The syntax groups of the ``*TransferSyntaxAccepted`` options (Orthanc's TransferSyntax enum).
SYNTAX_GROUPS: dict[str, list[str]] = {
    "deflated_transfer_syntax_accepted": [DEFLATED],
    "jpeg_transfer_syntax_accepted": _JPEG,
    "jpeg2000_transfer_syntax_accepted": [f"1.2.840.10008.1.2.4.{n}" for n in (90, 91, 92, 93)],
    "jpeg_lossless_transfer_syntax_accepted": ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"],
    "jpip_transfer_syntax_accepted": ["1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.95"],
    "mpeg2_transfer_syntax_accepted": ["1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101"],
    "mpeg4_transfer_syntax_accepted": [f"1.2.840.10008.1.2.4.{n}" for n in (102, 103, 104, 105, 106)],
    "h265_transfer_syntax_accepted": ["1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108"],
    "rle_transfer_syntax_accepted": ["1.2.840.10008.1.2.5"],
}
# Every transfer syntax Orthanc knows, in its order of preference.
ALL_SYNTAXES = [*GENERIC_SYNTAXES, *[uid for group in SYNTAX_GROUPS.values() for uid in group]]

QUERY_RETRIEVE_CLASSES = {
    VERIFICATION: "Echo",
    PATIENT_ROOT_FIND: "Find",
    STUDY_ROOT_FIND: "Find",
    WORKLIST_FIND: "FindWorklist",
    PATIENT_ROOT_MOVE: "Move",
    STUDY_ROOT_MOVE: "Move",
    PATIENT_ROOT_GET: "Get",
    STUDY_ROOT_GET: "Get",
    STORAGE_COMMITMENT: "NAction",
}
STORAGE_CLASSES = frozenset(str(cx.abstract_syntax) for cx in AllStoragePresentationContexts)


def accepted_storage_syntaxes(settings: Settings) -> list[str]:
    """The transfer syntaxes accepted for C-STORE, in order of preference."""
    if "AcceptedTransferSyntaxes" in settings.raw:
        patterns = list(settings.accepted_transfer_syntaxes)
        return [uid for uid in ALL_SYNTAXES if any(fnmatch.fnmatchcase(uid, p) for p in patterns)]
    accepted = list(GENERIC_SYNTAXES)
    for option, group in SYNTAX_GROUPS.items():
        if getattr(settings, option):
            accepted += group
    return accepted


def acceptor_contexts(
    requested: list[PresentationContext], storage_syntaxes: list[str], *, unknown_sop_class_accepted: bool
) -> list[PresentationContext]:
    """What to support for one association, given what the peer proposed (pynetdicom has no
    wildcard for unknown SOP classes, so the supported list is built per association)."""
    supported: list[PresentationContext] = []
    seen: set[str] = set()
    for proposed in requested:
        uid = str(proposed.abstract_syntax)
        if uid in seen:
            continue
        seen.add(uid)
        if uid in QUERY_RETRIEVE_CLASSES:
            syntaxes = GENERIC_SYNTAXES
        elif uid in STORAGE_CLASSES or unknown_sop_class_accepted:
            syntaxes = storage_syntaxes
        else:
            continue
        if not syntaxes:
            continue
        context = build_context(uid, syntaxes)
        # Whatever role the peer proposes: storage SCP normally, storage SCU during our C-GET.
        context.scu_role = True
        context.scp_role = True
        supported.append(context)
    return supported


def storage_contexts_for_retrieve() -> list[PresentationContext]:
    """Storage contexts a C-GET SCU proposes (at most 127, leaving room for the query model)."""
    syntaxes = list(UNCOMPRESSED_SYNTAXES)
    return [build_context(str(cx.abstract_syntax), syntaxes) for cx in StoragePresentationContexts][:120]
