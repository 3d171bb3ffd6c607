"""Push the run-cache whole: `dvc push --run-cache` plus the files its run entries name but DVC 3 leaves behind.

DVC 3 pushes the workspace's outputs and the run entries, but not the files of runs that are no longer checked
out, nor any run's `cache: false` outputs (our headline `metrics/`, which the run-cache keeps in the local cache).
A teammate's `dvc repro --pull` then finds the entry, misses its files, and reruns the stage.
"""
from __future__ import annotations

import argparse
import sys

from dvc.repo import Repo


def push_run_cache(repo: Repo, remote: str | None = None) -> tuple[int, int]:
    """Push the workspace, every run entry and every file they name; return (files pushed, files missing)."""
    repo.push(remote=remote)
    entries = repo.stage_cache.push(remote)  # what `--run-cache` adds: the entries, named by (key, value)
    pushed, missing = 0, 0
    for odb, objects in repo.stage_cache.get_used_objs(entries, remote=remote).items():
        result = repo.cloud.push(objects, remote=remote, odb=odb)
        pushed, missing = pushed + len(result.transferred), missing + len(result.failed)
    return pushed, missing


def main(argv: list[str] | None = None) -> int:
    """`python -m complaints.sharing [-r REMOTE]`: what `make share` runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--remote", help="the DVC remote (default: the project's default remote)")
    arguments = parser.parse_args(argv)
    with Repo() as repo:
        pushed, missing = push_run_cache(repo, arguments.remote)
    print(f"run-cache: {pushed} more files pushed, {missing} missing from the local cache")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
