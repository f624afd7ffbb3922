"""orthanc_py: a Python drop-in replacement for the Orthanc DICOM server."""

__version__ = "0.1.0"

# The Orthanc release whose REST surface this package mimics, and the matching ApiVersion.
ORTHANC_VERSION = "1.12.7"
