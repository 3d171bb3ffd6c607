"""Render benchmark JSON as a Markdown table, and put it in README.md between its benchmark markers.

Run:  python -m benchmarks.report [benchmarks/results/full.json]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
ROWS = [
    ("tokenization (tweets/s, all 7,953)", "tokenize_tweets_per_s", "{:,.0f}"),
    ("fine-tuning (s per epoch)", "train_s_per_epoch", "{:.1f}"),
    ("fine-tuning (s per full 3,060-tweet epoch)", "train_s_per_full_epoch", "{:.1f}"),
    ("fine-tuning throughput (GFLOP/s)", "train_gflop_per_s", "{:.1f}"),
    ("fraction of 2-core AVX2 fp32 peak", "train_fraction_of_peak", "{:.0%}"),
    ("inference (tweets/s, 4,553 test tweets)", "inference_tweets_per_s", "{:,.0f}"),
    ("peak memory (MB RSS)", "peak_rss_mb", "{:,.0f}"),
    ("validation AUC", "val_auc", "{:.4f}"),
    ("validation accuracy", "val_accuracy", "{:.2%}"),
    ("test tweets > 0.9", "test_non_complaints_at_0.9", "{}"),
]


def table(result: dict) -> str:
    """The ours-vs-reference table with ratios, then the stage timings."""
    lines = [
        f"Benchmark `{result['mode']}`, {result['date']}, {result['machine']['cpu']} ({result['machine']['cores']} cores), "
        f"Python {result['machine']['python']}.",
        "",
        "| measure | tutorial's code | ours | ours / tutorial |",
        "|---|---:|---:|---:|",
    ]
    for label, key, fmt in ROWS:
        ratio = result["ratio"].get(key)
        lines.append(f"| {label} | {fmt.format(result['reference'][key])} | {fmt.format(result['ours'][key])} | "
                     f"{'' if ratio is None else f'{ratio:.2f}x'} |")
    ours = result["ours"]
    lines += ["", f"Optional int8 inference (`predict.int8`, per-channel dynamic quantization): "
                  f"{ours['int8_inference_tweets_per_s']:,.0f} tweets/s "
                  f"({ours['int8_inference_tweets_per_s'] / result['reference']['inference_tweets_per_s']:.1f}x the tutorial), "
                  f"validation F1 {-ours['int8_val_f1_drop_points']:+.2f} points, test tweets > 0.9 "
                  f"{ours['int8_test_count_change']:+.1%} against fp32; accepted only with a drop of at most 0.5 point "
                  f"and a count within 5%."]
    stages = result["stages"]
    noop = "not up to date" if stages["dvc_repro_noop_s"] is None else f"{stages['dvc_repro_noop_s']:.2f} s"
    lines += ["", f"Stage wall times, imports included: baseline {stages['baseline_stage_s']:.1f} s, "
                  f"tokenize {stages['tokenize_stage_s']:.1f} s, no-op `dvc repro` {noop}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Replace the README's benchmark block with the table of the given results file."""
    path = Path((argv or sys.argv[1:] or [ROOT / "benchmarks" / "results" / "full.json"])[0])
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table(json.loads(path.read_text()))}\n{END}{tail}")


if __name__ == "__main__":
    main()
