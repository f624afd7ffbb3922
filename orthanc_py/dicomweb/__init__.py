"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS, WADO-URI) built in, as the Orthanc DICOMweb plugin serves it."""
