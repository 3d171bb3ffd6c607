"""The pipeline's stage entry points (`python -m stages.NAME`).

Every stage process runs ATen's CPU kernels for AVX2 at most (ATEN_CPU_CAPABILITY, unless the environment sets it):
the highest instruction set that both machine kinds have, so an AVX-512 machine runs the kernels an AVX2 one does
(docs/reliability.md). It is read when torch loads, so it is set here, before any stage imports torch.
"""
import os
import platform

if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
