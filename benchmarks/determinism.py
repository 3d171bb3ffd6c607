"""Does a fine-tune give the same bytes on another CPU, and what do MKL's reproducible branches cost?

Each fine-tune runs in a fresh process (ATen reads ATEN_CPU_CAPABILITY and MKL reads MKL_CBWR at start), through the
project's own `train_classifier`, on 2 threads, with deterministic algorithms (`configure_torch`):
- `tiny`: a seeded 2-layer BERT (hidden 32) fine-tuned for 2 epochs on 256 fixed random token rows, in seconds;
- `minilm`: the embedded all-MiniLM-L6-v2 fine-tuned by the default recipe's rate and batch for one epoch on the
  training split's first 512 tweets (16 steps; needs `dvc repro tokenize`).
Each under MKL's default branch, `MKL_CBWR=AVX2` and `MKL_CBWR=COMPATIBLE`, with ATen pinned to AVX2, the highest ISA
both machine kinds have. Equal weight digests on two machines mean identical bytes.

Run:  python -m benchmarks.determinism      # about 2 minutes on 2 cores
Merges this CPU's entry into benchmarks/results/determinism.json (one entry per CPU model, so the file gathers the
digests of every machine kind it ran on); docs/reliability.md shows it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

from benchmarks.compare import RESULTS, ROOT, cpu_model, run_header

BRANCHES = {"default": None, "AVX2": "AVX2", "COMPATIBLE": "COMPATIBLE"}
CPU_CAPABILITY = "avx2"
THREADS = 2


def weight_digest(model) -> str:
    """SHA-256 over every weight's name and bytes, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def tiny_fine_tune(scratch: str) -> tuple:
    """A seeded tiny BERT and 256 random rows whose label one token decides: (encoder folder, tokens, max length)."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertModel

    from complaints.text.tokens import Tokens

    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=32)).save_pretrained(scratch)
    rng = np.random.default_rng(0)
    input_ids = rng.integers(5, 90, size=(256, 16)).astype(np.int32)
    labels = np.arange(256) % 2
    input_ids[:, 1] = 95 + labels
    return scratch, Tokens(np.arange(256), input_ids, np.ones((256, 16), dtype=np.int8), labels), 16


def minilm_fine_tune() -> tuple:
    """The embedded MiniLM and the training split's first 512 tokenized tweets."""
    import numpy as np

    from complaints.core.io import read_json
    from complaints.text.pretrained import resolve_model
    from complaints.text.tokens import Tokens

    tokens = Tokens.load(ROOT / "data" / "tokens" / "train.safetensors")
    return resolve_model("embedded"), tokens.subset(np.arange(512)), read_json(ROOT / "data" / "tokens" / "model.json")["max_len"]


def child(kind: str) -> None:
    """Fine-tune once in this process and print its seconds, digest and ISA as JSON."""
    import tempfile

    import torch
    from accelerate import Accelerator

    from complaints.core.runtime import configure_torch
    from complaints.modeling.training import TrainParams, train_classifier

    configure_torch(0, threads=THREADS)
    with tempfile.TemporaryDirectory() as scratch:
        if kind == "tiny":
            location, tokens, max_length = tiny_fine_tune(scratch)
            params = TrainParams(epochs=2, batch_size=16, lr=1e-3, eval_batch_size=64)
        else:
            location, tokens, max_length = minilm_fine_tune()
            params = TrainParams(epochs=1, batch_size=32, lr=5e-5, pooling="mean")
        started = time.perf_counter()
        trained = train_classifier(location, tokens, params, max_length, Accelerator(cpu=True))
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "weights_sha256": weight_digest(trained.model),
                      "aten_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}))


def measured(kind: str, branch: str | None) -> dict:
    """One fine-tune in a fresh process under MKL `branch` (None: MKL's own choice) and ATen pinned."""
    environment = os.environ | {"ATEN_CPU_CAPABILITY": CPU_CAPABILITY}
    environment.pop("MKL_CBWR", None)
    if branch:
        environment["MKL_CBWR"] = branch
    done = subprocess.run([sys.executable, "-m", "benchmarks.determinism", "--child", kind], cwd=ROOT, env=environment,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Run every fine-tune under every branch, print, and merge this CPU's entry into determinism.json."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--child", choices=("tiny", "minilm"), help=argparse.SUPPRESS)
    args = arguments.parse_args(argv)
    if args.child:
        child(args.child)
        return
    entry = run_header() | {"aten_cpu_capability": CPU_CAPABILITY, "threads": THREADS, "fine_tunes": {}}
    for kind in ("tiny", "minilm"):
        runs = {name: measured(kind, branch) for name, branch in BRANCHES.items()}
        for name, run in runs.items():
            run["cost_vs_default"] = run["seconds"] / runs["default"]["seconds"] - 1
            print(f"{kind} MKL {name}: {run['seconds']:.1f} s ({run['cost_vs_default']:+.0%}), {run['weights_sha256'][:16]}")
        entry["fine_tunes"][kind] = runs
    path = RESULTS / "determinism.json"
    machines = json.loads(path.read_text())["machines"] if path.exists() else {}
    path.write_text(json.dumps({"machines": machines | {cpu_model(): entry}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
