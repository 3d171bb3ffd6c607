"""Time the whole default pipeline: `dvc repro --force`, every stage's wall time from DVC's own log lines.

Run:  python -m benchmarks.pipeline    # about 20 minutes on 2 cores; reruns every stage
Writes benchmarks/results/pipeline.json and a dated copy; `python -m benchmarks.report` puts the figures in the docs.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.compare import ROOT, run_header, save

STAGE_LINE = re.compile(r"Running stage '([\w@-]+)'")


def timed_repro() -> dict:
    """Run `dvc repro --force` and time each stage from its 'Running stage' line to the next one."""
    dvc = str(Path(sys.executable).parent / "dvc")
    started = time.perf_counter()
    marks: list[tuple[str, float]] = []
    with subprocess.Popen([dvc, "repro", "--force"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            if match := STAGE_LINE.search(line):
                marks.append((match.group(1), time.perf_counter() - started))
    if process.returncode != 0:
        raise SystemExit(f"dvc repro failed with exit code {process.returncode}")
    total = time.perf_counter() - started
    ends = [at for _, at in marks[1:]] + [total]
    return {"total_s": total, "stages_s": {name: end - at for (name, at), end in zip(marks, ends)}}


def main() -> None:
    """Time the pipeline, print the figures, save the JSON."""
    result = {**run_header(), **timed_repro()}
    print(json.dumps(result, indent=2))
    save(result, "pipeline")


if __name__ == "__main__":
    main()
