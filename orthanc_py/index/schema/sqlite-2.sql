-- orthanc_py index, schema version 2 (SQLite): jobs, modalities and peers defined over REST, and
-- the DICOMweb metadata kept at ingest. Each section belongs to one part of the server.

-- Jobs (core/jobs/).

-- Modalities and peers stored in the index (DicomModalitiesInDatabase, OrthancPeersInDatabase).

-- DICOMweb (dicomweb/).
