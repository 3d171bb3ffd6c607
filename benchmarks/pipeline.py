"""Time the whole default pipeline: `dvc repro --force`, every stage's wall time from DVC's own log lines.

Run:  python -m benchmarks.pipeline                # about 55 minutes on 2 cores; reruns every stage
      python -m benchmarks.pipeline --first-look   # the first look on a fresh clone of HEAD, about 20 minutes
Writes benchmarks/results/pipeline.json (or first_look.json) and a dated copy; `python -m benchmarks.report` puts
the figures in the docs.
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

STAGE_LINE = re.compile(r"Running stage '([\w@-]+)'")
# The one params switch of the first look (docs/pipeline.md): the default recipe's refit, no teacher.
FIRST_LOOK = ["exp", "run", "-S", "release.recipe=bert"]


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


def first_look() -> dict:
    """Clone HEAD beside a link to ../shared, install it with `make setup`, and time the first look there."""
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        (Path(scratch) / "shared").symlink_to(ROOT.parent / "shared")
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(project)], check=True)
        started = time.perf_counter()
        subprocess.run(["make", "setup"], cwd=project, check=True)
        setup_s = time.perf_counter() - started
        return {"setup_s": setup_s, **timed_dvc(FIRST_LOOK, project, project / ".venv" / "bin" / "dvc")}


def main(argv: list[str] | None = None) -> None:
    """Time the pipeline (or the first look), print the figures, save the JSON."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--first-look", action="store_true",
                           help="time `dvc exp run -S release.recipe=bert` on a fresh clone of HEAD instead")
    args = arguments.parse_args(argv)
    if args.first_look:
        result = {**run_header(), **first_look()}
    else:
        result = {**run_header(), **timed_dvc(["repro", "--force"], ROOT, Path(sys.executable).parent / "dvc")}
    print(json.dumps(result, indent=2))
    save(result, "first_look" if args.first_look else "pipeline")


if __name__ == "__main__":
    main()
