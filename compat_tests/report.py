"""One line per recorded scenario: does the server under test answer like the real Orthanc?

python -m compat_tests.report                    # every scenario, against orthanc_py in process
python -m compat_tests.report NAME ...           # some of them
python -m compat_tests.report -v NAME            # every difference, not only the first ones
python -m compat_tests.report --against-orthanc  # against a fresh real Orthanc 1.12: checks that the
                                                 # recordings and their volatile rules are sound
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from .model import fixture_paths, load_fixture
from .replay import orthanc_py_client, replay_fixture


def run_one(path: Path, against_orthanc: bool) -> tuple[list, str | None]:
    fixture = load_fixture(path)
    try:
        if against_orthanc:
            from .recorder import real_orthanc

            with real_orthanc(fixture["config"]) as client:
                return replay_fixture(fixture, client, orthanc_py=False), None
        with (
            tempfile.TemporaryDirectory(prefix="orthanc-py-compat-") as tmp,
            orthanc_py_client(fixture, Path(tmp)) as client,
        ):
            return replay_fixture(fixture, client), None
    except Exception as exc:  # the server under test could not even start
        return [], f"{type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay recorded Orthanc scenarios and summarize")
    parser.add_argument("names", nargs="*", help="scenario names (default: all recorded)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every difference")
    parser.add_argument("-n", "--first", type=int, default=3, help="differences shown per scenario")
    parser.add_argument(
        "--against-orthanc",
        action="store_true",
        help="replay against a fresh real Orthanc instead of orthanc_py",
    )
    args = parser.parse_args(argv)

    paths = fixture_paths(args.names or None)
    missing = [p.stem for p in paths if not p.exists()]
    if missing:
        print(f"no recording for: {', '.join(missing)}", file=sys.stderr)
        return 2

    passed = failed = 0
    started = time.monotonic()
    for path in paths:
        differences, error = run_one(path, args.against_orthanc)
        if error is None and not differences:
            passed += 1
            print(f"PASS {path.stem}")
            continue
        failed += 1
        if error is not None:
            print(f"FAIL {path.stem}: {error}")
            continue
        steps = len({d.step for d in differences})
        print(f"FAIL {path.stem}: {len(differences)} difference(s) in {steps} step(s)")
        for diff in differences if args.verbose else differences[: args.first]:
            print(f"       {diff}")
    print(f"{passed} passed, {failed} failed ({time.monotonic() - started:.1f}s)")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
