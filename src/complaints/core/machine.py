"""What this machine lets a process use (no torch here: the ONNX engine sizes its threads with it)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from complaints.core.config import load_section, require

# Set by a training or scoring stage from params `runtime.threads`; its child processes inherit it.
THREADS_VARIABLE = "COMPLAINTS_THREADS"


@dataclass(frozen=True)
class RuntimeParams:
    """The `runtime` section: the CPU threads of every training and scoring stage, the same on every machine (float
    reductions split by thread count, so another count gives other bytes); null: this machine's cores."""

    SECTION: ClassVar[str] = "runtime"
    threads: int | None = 2

    def __post_init__(self) -> None:
        require(self.threads is None or self.threads >= 1, "runtime.threads", self.threads,
                "null (this machine's cores) or an integer >= 1")


def machine_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota (containers)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota_file = Path("/sys/fs/cgroup/cpu.max")
    if quota_file.exists():
        quota, period = quota_file.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
    return cpus


def available_cpus() -> int:
    """The threads this process computes with: the stage's pinned count (params `runtime.threads`), else its cores."""
    pinned = os.environ.get(THREADS_VARIABLE)
    return int(pinned) if pinned else machine_cpus()


def pin_threads(params_path: Path) -> None:
    """Make `available_cpus()` answer params `runtime.threads` in this process and the processes it starts."""
    threads = load_section(params_path, RuntimeParams.SECTION, RuntimeParams).threads
    if threads is not None:
        os.environ[THREADS_VARIABLE] = str(threads)
