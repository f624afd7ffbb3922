"""``python -m orthanc_py``: the same command line as the ``orthanc-py`` script (and as Orthanc)."""

from orthanc_py.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
