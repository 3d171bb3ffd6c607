"""Push the run-cache whole: `dvc push --run-cache` plus the files its run entries name but DVC 3 leaves behind.

DVC 3 pushes the workspace's outputs and the run entries, but not the files of runs that are no longer checked
out, nor any run's `cache: false` outputs (our headline `metrics/`, which the run-cache keeps in the local cache).
A teammate's `dvc repro --pull` then finds the entry, misses its files, and reruns the stage.

Before anything is sent, the remote is checked: reachable, the login accepted, its folder writable. A failure is one
line naming the remote and the cause. Every remote writes each file under a temporary name and renames it when whole,
so a push cut midway leaves no half-written file under its final name, and the next push sends what is missing.
"""
from __future__ import annotations

import argparse
import inspect
import socket
import sys
import uuid
import warnings

from dvc.exceptions import DvcException
from dvc.repo import Repo

# The DVC internals the push reaches into, with the parameters (or fields) it uses: `internals_changed` checks them,
# and a test fails when an upgrade of DVC changes one (docs/pipeline.md says what to recheck).
INTERNALS = {"dvc.stage.cache.StageCache.push": ("remote",),
             "dvc.stage.cache.StageCache.get_used_objs": ("used_run_cache",),
             "dvc.data_cloud.DataCloud.push": ("objs", "remote", "odb"),
             "dvc.data_cloud.DataCloud.get_remote": ("name",),
             "dvc_data.hashfile.transfer.TransferResult": ("transferred", "failed")}


class RemoteError(Exception):
    """The remote could not take the push: its name, its URL and the cause, on one line."""


def resolved(dotted: str):
    """The object a dotted name points to (its longest importable module, then attributes), or None."""
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = getattr(found, name, None)
        return found
    return None


def internals_changed() -> list[str]:
    """The DVC internals above whose shape differs from what this module uses (empty when all match)."""
    changed = []
    for dotted, expected in INTERNALS.items():
        found = resolved(dotted)
        if found is None:
            changed.append(f"{dotted} is gone")
        elif missing := sorted(set(expected) - set(inspect.signature(found).parameters)):
            changed.append(f"{dotted} no longer takes {missing}")
    return changed


def cause(error: BaseException) -> str:
    """An exception as a short phrase: its message, else its type's name."""
    return str(error).strip() or type(error).__name__


def checked_remote(repo: Repo, name: str | None):
    """The remote the push goes to, after reaching it, logging in and writing (then deleting) a probe file there."""
    try:
        remote = repo.cloud.get_remote(name)
    except DvcException as error:
        raise RemoteError(f"no remote to push to: {cause(error)} (add one with `dvc remote add -d NAME URL`)") from None
    where = f"remote '{remote.name}' ({remote.fs.unstrip_protocol(remote.path)})"
    try:
        remote.fs.exists(remote.path)
    except PermissionError as error:
        raise RemoteError(f"{where} refused the login: {cause(error)} (check its user and keyfile in "
                          f".dvc/config.local)") from None
    except (ConnectionError, TimeoutError, socket.gaierror, OSError) as error:
        raise RemoteError(f"{where} is unreachable: {cause(error)}") from None
    probe = remote.fs.join(remote.path, f".write-check-{uuid.uuid4().hex}")
    try:
        remote.fs.makedirs(remote.path, exist_ok=True)
        remote.fs.pipe_file(probe, b"")
        remote.fs.rm_file(probe)
    except Exception as error:  # each filesystem has its own errors (asyncssh's SFTP ones are not OSErrors)
        raise RemoteError(f"{where} is not writable: {cause(error)} (the folder must exist or be creatable, and be "
                          f"writable by the remote's user)") from None
    return remote


def push_run_cache(repo: Repo, remote: str | None = None) -> tuple[int, int]:
    """Push the workspace, every run entry and every file they name; return (files pushed, files missing)."""
    repo.push(remote=remote)
    entries = repo.stage_cache.push(remote)  # what `--run-cache` adds: the entries, named by (key, value)
    pushed, missing = 0, 0
    for odb, objects in repo.stage_cache.get_used_objs(entries, remote=remote).items():
        result = repo.cloud.push(objects, remote=remote, odb=odb)
        pushed, missing = pushed + len(result.transferred), missing + len(result.failed)
    return pushed, missing


def share(remote_name: str | None) -> tuple[int, int]:
    """Check the remote, then push everything to it; a failure midway is a RemoteError saying how to resume."""
    with Repo() as repo:
        remote = checked_remote(repo, remote_name)
        try:
            return push_run_cache(repo, remote.name)
        except (DvcException, OSError) as error:
            raise RemoteError(f"remote '{remote.name}': the push stopped midway: {cause(error)}; run `make share` "
                              f"again to send the rest") from None


def main(argv: list[str] | None = None) -> int:
    """`python -m complaints.release.sharing [-r REMOTE]`: what `make share` runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--remote", help="the DVC remote (default: the project's default remote)")
    arguments = parser.parse_args(argv)
    # asyncssh (dvc-ssh) imports cryptography's deprecated DSA names: noise, not a problem of the push.
    warnings.filterwarnings("ignore", module=r"asyncssh\.")
    try:
        pushed, missing = share(arguments.remote)
    except RemoteError as error:
        print(f"make share: {error}", file=sys.stderr)
        return 1
    print(f"run-cache: {pushed} more files pushed, {missing} missing from the local cache")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
