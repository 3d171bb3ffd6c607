"""Time the default pipeline (dvc.yaml, the quick path): `dvc repro --force`, every stage's wall time from DVC's own
log lines; or the distilled release (`release.recipe: student`: distill/dvc.yaml first) on a fresh clone of HEAD.

Run:  python -m benchmarks.pipeline               # reruns every stage of the default pipeline in this checkout
      python -m benchmarks.pipeline --distilled   # `make pipeline-distilled`'s command on a fresh clone of HEAD
Writes benchmarks/results/pipeline.json (or pipeline_distilled.json) and a dated copy; `python -m benchmarks.report`
puts the figures in the docs.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.compare import ROOT, run_header, save

STAGE_LINE = re.compile(r"Running stage '([\w@/.:-]+)'")
# The one params switch to the distilled release (docs/pipeline.md), as `make pipeline-distilled` runs it.
DISTILLED = ["exp", "run", "-S", "release.recipe=student"]


def timed_dvc(arguments: list[str], project: Path, dvc: Path) -> dict:
    """Run one dvc command and time each stage from its 'Running stage' line to the next one."""
    started = time.perf_counter()
    marks: list[tuple[str, float]] = []
    with subprocess.Popen([str(dvc), *arguments], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            if match := STAGE_LINE.search(line):
                marks.append((match.group(1), time.perf_counter() - started))
    if process.returncode != 0:
        raise SystemExit(f"dvc {' '.join(arguments)} failed with exit code {process.returncode}")
    total = time.perf_counter() - started
    ends = [at for _, at in marks[1:]] + [total]
    return {"command": f"dvc {' '.join(arguments)}", "total_s": total,
            "stages_s": {name: end - at for (name, at), end in zip(marks, ends)}}


def distilled() -> dict:
    """Clone HEAD beside a link to ../shared, install it with `make setup`, and time the distilled release there."""
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        (Path(scratch) / "shared").symlink_to(ROOT.parent / "shared")
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(project)], check=True)
        started = time.perf_counter()
        subprocess.run(["make", "setup"], cwd=project, check=True)
        setup_s = time.perf_counter() - started
        return {"setup_s": setup_s, **timed_dvc(DISTILLED, project, project / ".venv" / "bin" / "dvc")}


def main(argv: list[str] | None = None) -> None:
    """Time the default pipeline (or the distilled release), print the figures, save the JSON."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--distilled", action="store_true",
                           help="time `dvc exp run -S release.recipe=student` on a fresh clone of HEAD instead")
    args = arguments.parse_args(argv)
    if args.distilled:
        result = {**run_header(), **distilled()}
    else:
        result = {**run_header(), **timed_dvc(["repro", "--force"], ROOT, Path(sys.executable).parent / "dvc")}
    print(json.dumps(result, indent=2))
    save(result, "pipeline_distilled" if args.distilled else "pipeline")


if __name__ == "__main__":
    main()
