"""Jobs: long operations run in the background by every process from the table of jobs in the index
(Orthanc's JobsEngine). ``engine.py`` runs them; each other module is one type of job."""
