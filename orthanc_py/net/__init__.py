"""DICOM networking: the DICOM server (``scp.py``: C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET), the
client towards remote modalities (``scu.py``), and the modality registry (``modalities.py``)."""
