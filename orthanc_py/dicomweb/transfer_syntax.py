"""WADO-RS transfer syntax negotiation: what a client may ask for in ``Accept: …; transfer-syntax=``.

The server produces any uncompressed little endian syntax (decoding a compressed file with the
pixel data decoders pydicom has), and a compressed syntax only as stored: it does not encode. What
it cannot produce is answered 406 Not Acceptable before anything is sent (the plugin answers 500
once transcoding fails); a transfer syntax that is not one is a client mistake (400).
"""

from __future__ import annotations

from pydicom.pixels import get_decoder
from pydicom.uid import UID

from ..core.errors import ErrorCode, OrthancError
from ..core.transcoding import UNCOMPRESSED

EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2"
BIG_ENDIAN = "1.2.840.10008.1.2.2"

# Frames are raw pixel bytes: little endian, whichever of these the client names.
FRAME_SYNTAXES = (EXPLICIT_LITTLE_ENDIAN, IMPLICIT_LITTLE_ENDIAN)

# The media type of a compressed frame (PS3.18 table 8.7.3-2), as the plugin labels its parts.
_FRAME_MEDIA_TYPES = {
    "1.2.840.10008.1.2.5": "image/dicom-rle",
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.4.100": "video/mpeg2",
    "1.2.840.10008.1.2.4.101": "video/mpeg2",
    "1.2.840.10008.1.2.4.102": "video/mp4",
    "1.2.840.10008.1.2.4.103": "video/mp4",
    "1.2.840.10008.1.2.4.104": "video/mp4",
    "1.2.840.10008.1.2.4.105": "video/mp4",
    "1.2.840.10008.1.2.4.106": "video/mp4",
    "1.2.840.10008.1.2.4.107": "video/H265",
    "1.2.840.10008.1.2.4.108": "video/H265",
}


def requested_syntax(text: str | None) -> str | None:
    """The ``transfer-syntax`` parameter: None (not given), ``*`` (as stored) or a known UID."""
    if text is None or text == "*":
        return text
    uid = UID(text.strip())
    if not uid.is_valid or not uid.is_transfer_syntax:
        raise OrthancError(ErrorCode.BadRequest, f"Unsupported transfer syntax in WADO-RS: {text}")
    return str(uid)


def not_acceptable(details: str) -> OrthancError:
    return OrthancError(ErrorCode.NotAcceptable, details, http_status=406)


def can_decode(syntax: str) -> bool:
    if syntax in UNCOMPRESSED or syntax == BIG_ENDIAN:
        return True
    try:
        return bool(get_decoder(syntax).is_available)
    except (NotImplementedError, ValueError):
        return False


def check_instance_target(stored: str | None, target: str) -> None:
    """Refuse (406) to send a stored file in ``target`` when this server cannot produce it."""
    if stored == target:
        return
    if target not in UNCOMPRESSED:
        raise not_acceptable(f"Cannot transcode DICOM instances to the transfer syntax {target}")
    if stored is not None and (stored == BIG_ENDIAN or not can_decode(stored)):
        raise not_acceptable(f"Cannot decode the transfer syntax {stored} to send it as {target}")


def frame_media_type(syntax: str) -> str:
    """The content type of the frames of a file sent in ``syntax``."""
    media = _FRAME_MEDIA_TYPES.get(syntax, "application/octet-stream")
    return f"{media}; transfer-syntax={syntax}"


def media_type_of_syntax(syntax: str) -> str:
    return _FRAME_MEDIA_TYPES.get(syntax, "application/octet-stream")
