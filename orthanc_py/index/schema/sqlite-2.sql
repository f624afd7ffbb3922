-- orthanc_py index, schema version 2 (SQLite): jobs, modalities and peers defined over REST, and
-- the DICOMweb metadata kept at ingest. Each section belongs to one part of the server.

-- Jobs (core/jobs/). Every process runs jobs from this table: a process claims a pending job in a
-- write transaction (owner), and the running job reads "command" between its steps.
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,  -- submission order, for jobs of equal priority
  type TEXT NOT NULL,
  state TEXT NOT NULL,  -- Pending, Running, Success, Failure, Paused, Retry
  priority INTEGER NOT NULL,
  progress INTEGER NOT NULL DEFAULT 0,  -- 0..100
  creation_time TEXT NOT NULL,  -- ISO times as Orthanc shows them (20240131T235959.123456)
  state_time TEXT NOT NULL,  -- last change of state (the completion time once finished)
  status_time TEXT NOT NULL,  -- last update of the status ("Timestamp")
  runtime_ms INTEGER NOT NULL DEFAULT 0,
  error_code INTEGER NOT NULL DEFAULT 0,
  error_details TEXT NOT NULL DEFAULT '',
  content TEXT NOT NULL,  -- the public JSON content
  parameters TEXT NOT NULL,  -- the serialized job: enough to resume, or to resubmit it
  owner TEXT,  -- the process running it
  heartbeat REAL,  -- when the owner last reported (seconds since the epoch)
  command TEXT  -- requested of the running job: pause or cancel
);
CREATE INDEX jobs_by_state ON jobs (state, priority, seq);
CREATE TABLE job_outputs (
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  mime TEXT NOT NULL,
  content BLOB NOT NULL,
  PRIMARY KEY (job_id, key)
);

-- Modalities and peers stored in the index (DicomModalitiesInDatabase, OrthancPeersInDatabase).
CREATE TABLE modalities (
  name TEXT PRIMARY KEY,  -- the symbolic name, as in /modalities/{name}
  configuration TEXT NOT NULL  -- the JSON object of /modalities/{name}/configuration
);

CREATE TABLE peers (
  name TEXT PRIMARY KEY,  -- the symbolic name, as in /peers/{name}
  configuration TEXT NOT NULL  -- the JSON of the peer, with its password and HTTP headers
);
-- Storage commitment reports of /storage-commitment/{id}, by transaction UID (at most
-- StorageCommitmentReportsSize of them, oldest removed first; Orthanc keeps them in memory).
CREATE TABLE storage_commitment_reports (
  transaction_uid TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  remote_aet TEXT NOT NULL,
  report TEXT  -- JSON {"Success": [...], "Failures": [...]}; NULL while the report is pending
);
-- Queries to modalities kept for /queries (QueryRetrieveSize of them, oldest removed first).
CREATE TABLE queries (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  modality TEXT NOT NULL,
  level TEXT NOT NULL,
  query TEXT NOT NULL,  -- JSON of the query, as GET /queries/{id}/query shows it
  answers TEXT NOT NULL,  -- JSON list of the answers, each a DICOM-as-JSON dataset
  -- carried into the child queries of its answers (/answers/{n}/query-*), as Orthanc does:
  normalize INTEGER NOT NULL DEFAULT 1,  -- its "Normalize" option
  timeout INTEGER  -- its "Timeout" in seconds, NULL for the modality's default
);

-- DICOMweb (dicomweb/). The DICOM JSON of each instance for WADO-RS /metadata, without bulk data,
-- computed from the file on first request: study and series metadata then read no file.
CREATE TABLE dicomweb_metadata (
  internal_id INTEGER PRIMARY KEY REFERENCES resources(internal_id) ON DELETE CASCADE,
  json BLOB NOT NULL  -- UTF-8 JSON; bulk data URIs relative to the public DICOMweb root
);
-- DICOMweb servers defined over REST (PUT /dicom-web/servers/{name}), shared by every process; a
-- server of the configuration file deleted over REST is kept here with a NULL configuration.
CREATE TABLE dicomweb_servers (
  name TEXT PRIMARY KEY,
  configuration TEXT  -- the JSON definition, with its password
);
