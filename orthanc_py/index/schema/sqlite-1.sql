-- orthanc_py index, schema version 1 (SQLite).
CREATE TABLE resources (
  internal_id INTEGER PRIMARY KEY AUTOINCREMENT,
  level INTEGER NOT NULL,
  public_id TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES resources(internal_id) ON DELETE CASCADE,
  -- The main tags as a JSON array of [tag, value] pairs: one row to read per resource when
  -- rendering, instead of one per tag. main_dicom_tags stays the source for lookups.
  main_tags TEXT
);
CREATE INDEX resources_parent ON resources(parent_id);
CREATE INDEX resources_level ON resources(level, public_id);

CREATE TABLE main_dicom_tags (
  internal_id INTEGER NOT NULL REFERENCES resources(internal_id) ON DELETE CASCADE,
  tag INTEGER NOT NULL,
  value TEXT NOT NULL,
  normalized TEXT NOT NULL,
  PRIMARY KEY (internal_id, tag)
);
CREATE INDEX main_dicom_tags_value ON main_dicom_tags(tag, value);
CREATE INDEX main_dicom_tags_normalized ON main_dicom_tags(tag, normalized);

CREATE TABLE metadata (
  internal_id INTEGER NOT NULL REFERENCES resources(internal_id) ON DELETE CASCADE,
  type INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (internal_id, type)
);

CREATE TABLE attached_files (
  internal_id INTEGER NOT NULL REFERENCES resources(internal_id) ON DELETE CASCADE,
  content_type INTEGER NOT NULL,
  uuid TEXT NOT NULL,
  compressed_size INTEGER NOT NULL,
  uncompressed_size INTEGER NOT NULL,
  compression INTEGER NOT NULL,
  uncompressed_md5 TEXT NOT NULL,
  compressed_md5 TEXT NOT NULL,
  revision INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (internal_id, content_type)
);

CREATE TABLE changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  change_type INTEGER NOT NULL,
  internal_id INTEGER NOT NULL REFERENCES resources(internal_id) ON DELETE CASCADE,
  level INTEGER NOT NULL,
  date TEXT NOT NULL
);
CREATE INDEX changes_resource ON changes(internal_id);

-- Patients in the order they last received an instance: the first is recycled first.
CREATE TABLE patient_recycling_order (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  patient_id INTEGER NOT NULL UNIQUE REFERENCES resources(internal_id) ON DELETE CASCADE
);

CREATE TABLE protected_patients (
  internal_id INTEGER PRIMARY KEY REFERENCES resources(internal_id) ON DELETE CASCADE
);

CREATE TABLE labels (
  internal_id INTEGER NOT NULL REFERENCES resources(internal_id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  PRIMARY KEY (internal_id, label)
);
CREATE INDEX labels_label ON labels(label);

CREATE TABLE pending_files (
  uuid TEXT PRIMARY KEY
);

CREATE TABLE global_properties (
  property INTEGER PRIMARY KEY,
  value TEXT NOT NULL
);

-- Running totals for /statistics and recycling, kept by triggers so that reading them costs nothing.
CREATE TABLE global_counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO global_counters (name, value) VALUES
  ('resources_0', 0), ('resources_1', 0), ('resources_2', 0), ('resources_3', 0),
  ('compressed_size', 0), ('uncompressed_size', 0),
  ('dicom_compressed_size', 0), ('dicom_uncompressed_size', 0);

CREATE TRIGGER resources_counted AFTER INSERT ON resources BEGIN
  UPDATE global_counters SET value = value + 1 WHERE name = 'resources_' || new.level;
END;
CREATE TRIGGER resources_uncounted AFTER DELETE ON resources BEGIN
  UPDATE global_counters SET value = value - 1 WHERE name = 'resources_' || old.level;
END;
CREATE TRIGGER attachments_counted AFTER INSERT ON attached_files BEGIN
  UPDATE global_counters SET value = value + CASE name
      WHEN 'compressed_size' THEN new.compressed_size
      WHEN 'uncompressed_size' THEN new.uncompressed_size
      WHEN 'dicom_compressed_size' THEN new.compressed_size
      ELSE new.uncompressed_size END
    WHERE name IN ('compressed_size', 'uncompressed_size')
       OR (new.content_type = 1 AND name IN ('dicom_compressed_size', 'dicom_uncompressed_size'));
END;
CREATE TRIGGER attachments_uncounted AFTER DELETE ON attached_files BEGIN
  UPDATE global_counters SET value = value - CASE name
      WHEN 'compressed_size' THEN old.compressed_size
      WHEN 'uncompressed_size' THEN old.uncompressed_size
      WHEN 'dicom_compressed_size' THEN old.compressed_size
      ELSE old.uncompressed_size END
    WHERE name IN ('compressed_size', 'uncompressed_size')
       OR (old.content_type = 1 AND name IN ('dicom_compressed_size', 'dicom_uncompressed_size'));
END;
