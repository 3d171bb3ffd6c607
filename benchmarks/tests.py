"""Time the two test tiers as the Makefile runs them: `make test-fast` (`pytest -m "not slow"`) and `make test`
(`pytest -n 2 --dist loadgroup`), with their counts from pytest's JUnit XML and the slowest tests.

Run:  python -m benchmarks.tests     # about 8 minutes on 2 cores
Writes benchmarks/results/tests.json and a dated copy; `python -m benchmarks.report` puts the figures in the docs.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from benchmarks.compare import ROOT, run_header, save

TIERS = {"test-fast": ["-m", "not slow"], "test": ["-n", "2", "--dist", "loadgroup"]}
SLOWEST = 10


def tier(arguments: list[str]) -> dict:
    """One tier's wall time, counts and slowest tests; fails when a test fails."""
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / "junit.xml"
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", *arguments, f"--junitxml={junit}"], cwd=ROOT)
        wall = time.perf_counter() - started
        suite = ElementTree.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        cases = sorted(((float(case.get("time", 0)), f"{case.get('classname')}::{case.get('name')}")
                        for case in suite.iter("testcase")), reverse=True)
    counts = {name: int(suite.get(name, 0)) for name in ("tests", "failures", "errors", "skipped")}
    if result.returncode != 0:
        raise SystemExit(f"pytest {' '.join(arguments)} failed ({counts}); no timing is saved")
    return {"wall_s": wall, "passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
            **counts, "slowest": [{"test": name, "s": seconds} for seconds, name in cases[:SLOWEST]]}


def main() -> None:
    """Run both tiers, print, save."""
    result = {**run_header(), "tiers": {name: tier(arguments) for name, arguments in TIERS.items()}}
    print(json.dumps(result, indent=2))
    save(result, "tests")


if __name__ == "__main__":
    main()
