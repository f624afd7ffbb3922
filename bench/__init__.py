"""Side-by-side benchmarks of orthanc_py against the real Orthanc (see ``bench/README.md``).

Run with ``python -m bench.run``. Nothing here is a pytest test: timings are printed and saved, never
asserted.
"""
