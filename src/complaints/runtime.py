"""Where and how torch runs: seeds, determinism, CPU threads, device and mixed precision."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def available_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota (containers)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota_file = Path("/sys/fs/cgroup/cpu.max")
    if quota_file.exists():
        quota, period = quota_file.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
    return cpus


def configure_torch(seed: int) -> None:
    """Seed every RNG, use deterministic algorithms, and one thread per usable core."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(available_cpus())
    # cuBLAS needs this workspace setting to be deterministic; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def mixed_precision() -> str:
    """Accelerate's mixed-precision mode: bf16 on CUDA that supports it, fp16 on older CUDA, none on CPU.

    bf16 autocast is never used on a CPU: without avx512_bf16/AMX it is slower than fp32.
    """
    if not torch.cuda.is_available():
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def inference_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
