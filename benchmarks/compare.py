"""Time our pipeline against the tutorial's own code (benchmarks/reference.py) on this machine, in one run.

Same model (params `model.name`), MAX_LEN, batch size, learning rate, epochs and data; each side runs in its own
process so peak memory is its own. Needs `data/split` (run `dvc repro split` first).

Run:  python -m benchmarks.compare            # full: every batch, params' epochs (about 10 minutes on 2 cores)
      python -m benchmarks.compare --short    # 20 training batches, 1 epoch (a few minutes)
Writes benchmarks/results/latest.json and a dated copy; `python -m benchmarks.report` puts the table in the docs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PEAK_GFLOPS = 170.0  # fp32 FMA peak of two AVX2 cores at about 2.7 GHz: 2 cores x 32 FLOP/cycle


def training_flop(encoder_params: int, padded_tokens: int) -> float:
    """Forward + backward matmul work of one pass: about 6 FLOP per non-embedding weight per token."""
    return 6.0 * encoder_params * padded_tokens


def non_embedding_params(model) -> int:
    """Weights the matmuls touch for every token (embeddings are lookups)."""
    return sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)


def side(name: str, train_size: int | None, epochs: int) -> dict:
    """Tokenize, fine-tune, validate and predict with one implementation; return its figures."""
    import numpy as np
    import pandas as pd
    import torch

    from benchmarks import reference
    from complaints.core.config import load_section
    from complaints.text.encoding import encode
    from complaints.text.pretrained import ModelParams, TokenizeParams, load_tokenizer, resolve_model
    from complaints.core.metrics import classification_metrics
    from complaints.core.runtime import configure_torch
    from complaints.modeling.training import TrainParams

    # Both sides run the tutorial's recipe: the benchmark compares implementations, not recipes.
    params = load_section(ROOT / "params.yaml", "tutorial", TrainParams)
    max_len = load_section(ROOT / "params.yaml", "tokenize", TokenizeParams).max_len
    location = resolve_model(load_section(ROOT / "params.yaml", "model", ModelParams).name, ROOT / "params.yaml")
    tables = {split: pd.read_parquet(ROOT / "data" / "split" / f"{split}.parquet") for split in ("train", "val", "test")}
    if train_size:
        tables["train"] = tables["train"].head(train_size)
    all_texts = sum((tables[split]["text"].tolist() for split in ("train", "val", "test")), [])
    tokenizer = load_tokenizer(location)
    configure_torch(params.seed)

    started = time.perf_counter()
    if name == "reference":
        encoded = {split: reference.preprocessing_for_bert(tokenizer, tables[split]["text"], max_len) for split in tables}
    else:
        encoded = {split: encode(tokenizer, tables[split]["text"].tolist(), max_len) for split in tables}
    tokenize_seconds = time.perf_counter() - started
    labels = {split: tables[split]["label"].to_numpy() for split in ("train", "val")}

    epoch_seconds = []
    if name == "reference":
        reference.set_seed(params.seed)
        loader = reference.train_loader(*encoded["train"], labels["train"], params.batch_size)
        model, optimizer, scheduler = reference.initialize_model(location, params.lr, params.eps, len(loader) * epochs)
        padded_tokens = len(labels["train"]) * max_len
        for _ in range(epochs):
            started = time.perf_counter()
            reference.train_epoch(model, loader, optimizer, scheduler)
            epoch_seconds.append(time.perf_counter() - started)
        predict = lambda split: reference.bert_predict(model, reference.predict_loader(*encoded[split]))[:, 1]
        encoder = model.bert
    else:
        from accelerate import Accelerator

        from complaints.modeling.torch_scoring import score
        from complaints.modeling.model import pretrained_classifier
        from complaints.text.tokens import Tokens
        from complaints.modeling.training import LengthGroupedBatches, fine_tune

        tokens = {split: Tokens(tables[split]["id"].to_numpy(), encoded[split]["input_ids"], encoded[split]["attention_mask"],
                                labels.get(split)) for split in tables}
        model = pretrained_classifier(location, params.head_hidden, params.freeze_bert, params.pooling, max_len)
        history = fine_tune(model, tokens["train"], None, TrainParams(**{**params.__dict__, "epochs": epochs}),
                            Accelerator(cpu=True))
        epoch_seconds = [row["seconds"] for row in history]
        sampler = LengthGroupedBatches(tokens["train"].lengths, params.batch_size, params.seed)
        padded_tokens = sum(len(batch) * int(tokens["train"].lengths[batch].max()) for batch in sampler)
        device = torch.device("cpu")
        predict = lambda split: score(model, tokens[split], params.eval_batch_size, device)
        encoder = model.encoder

    started = time.perf_counter()
    test_probability = predict("test")
    inference_seconds = time.perf_counter() - started
    validation = classification_metrics(labels["val"], np.asarray(predict("val"), dtype=float))
    seconds_per_epoch = float(np.mean(epoch_seconds))
    flop = training_flop(non_embedding_params(encoder), padded_tokens)
    return {
        "tokenize_tweets_per_s": len(all_texts) / tokenize_seconds,
        "train_batches_per_epoch": -(-len(labels["train"]) // params.batch_size),
        "train_s_per_epoch": seconds_per_epoch,
        "train_s_per_full_epoch": seconds_per_epoch * 3060 / len(labels["train"]),
        "train_gflop_per_s": flop / seconds_per_epoch / 1e9,
        "train_fraction_of_peak": flop / seconds_per_epoch / 1e9 / PEAK_GFLOPS,
        "inference_tweets_per_s": len(test_probability) / inference_seconds,
        "test_non_complaints_at_0.9": int((np.asarray(test_probability) > 0.9).sum()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "val_auc": validation["auc"],
        "val_accuracy": validation["accuracy"],
        "val_f1": validation["f1"],
    }


def wall_seconds(command: list[str]) -> float:
    """Wall time of a command run from the project root (imports included)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def stage_timings(scratch: Path) -> dict:
    """Wall time of the baseline and tokenize stages into scratch outputs, and of a no-op `dvc repro`."""
    python = sys.executable
    timings = {
        "baseline_stage_s": wall_seconds([python, "-m", "stages.baseline", "--split", "data/split", "--model",
                                          str(scratch / "b.joblib"), "--metrics", str(scratch / "b.json"), "--plots",
                                          str(scratch / "plots"), "--cv-plot", str(scratch / "cv.csv"),
                                          "--oof", str(scratch / "oof.csv")]),
        "tokenize_stage_s": wall_seconds([python, "-m", "stages.tokenize", "--split", "data/split", "--out",
                                          str(scratch / "tokens"), "--stats", str(scratch / "t.json")]),
    }
    dvc = str(Path(python).parent / "dvc")
    up_to_date = json.loads(subprocess.run([dvc, "status", "--json"], cwd=ROOT, capture_output=True, text=True).stdout or "{}") == {}
    timings["dvc_repro_noop_s"] = min(wall_seconds([dvc, "repro"]) for _ in range(3)) if up_to_date else None
    return timings


def run_header() -> dict:
    """When and where a benchmark ran: the UTC date and the machine."""
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()}}


def save(result: dict, name: str) -> None:
    """Write `result` as benchmarks/results/NAME.json and a dated copy, to compare over time."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for path in (RESULTS / f"{name}.json", RESULTS / f"{name}-{result['date'][:10]}.json"):
        path.write_text(json.dumps(result, indent=2) + "\n")


def cpu_model() -> str:
    """The processor's model name."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(argv: list[str] | None = None) -> None:
    """Run both sides, print the table, save the JSON."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--short", action="store_true", help="20 training batches, 1 epoch")
    arguments.add_argument("--side", choices=("reference", "ours"), help=argparse.SUPPRESS)
    args = arguments.parse_args(argv)
    train_size, epochs = (20 * 32, 1) if args.short else (None, None)
    if args.side:
        from complaints.core.config import load_section
        from complaints.modeling.training import TrainParams

        epochs = epochs or load_section(ROOT / "params.yaml", "tutorial", TrainParams).epochs
        print(json.dumps(side(args.side, train_size, epochs)))
        return

    figures = {}
    for name in ("reference", "ours"):
        command = [sys.executable, "-m", "benchmarks.compare", "--side", name] + (["--short"] if args.short else [])
        output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        figures[name] = json.loads(output.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as scratch:
        stages = stage_timings(Path(scratch))
    result = {
        **run_header(),
        "mode": "short" if args.short else "full",
        "reference": figures["reference"],
        "ours": figures["ours"],
        "ratio": {key: figures["ours"][key] / figures["reference"][key] for key in figures["reference"]
                  if isinstance(figures["reference"][key], float) and figures["reference"][key]},
        "stages": stages,
    }
    save(result, result["mode"])
    from benchmarks.report import table

    print(table(result))


if __name__ == "__main__":
    main()
