"""Where and how torch runs: seeds, determinism, CPU threads, device and mixed precision."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from complaints.core.machine import available_cpus


def configure_torch(seed: int = 0, threads: int | None = None) -> None:
    """Seed every RNG, use deterministic algorithms, and `threads` threads, by default this process's share of the
    usable cores (torchrun's LOCAL_WORLD_SIZE processes share them)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(threads or max(1, available_cpus() // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    # cuBLAS needs this workspace setting to be deterministic; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def mixed_precision() -> str:
    """Accelerate's mixed-precision mode: bf16 on a GPU with native bf16, else fp16 on CUDA, none on the CPU.

    bf16 is never emulated: a GPU without native bf16 (before Ampere) runs it slower than fp16. Nor is it used on a
    CPU: without avx512_bf16/AMX it is slower than fp32.
    """
    if not torch.cuda.is_available():
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype of `mixed_precision()` on `device`; None for full precision."""
    if device.type != "cuda":
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[mixed_precision()]


def inference_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
