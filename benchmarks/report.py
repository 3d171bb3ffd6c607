"""Render the benchmark JSON and the pipeline's metrics files as Markdown tables, and put them in README.md.

The results table is generated from metrics/*.json (the committed pipeline run) and benchmarks/results/pipeline.json;
the benchmark table from benchmarks/results/full.json. Each replaces the block between its README markers.
Run:  python -m benchmarks.report [benchmarks/results/full.json]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"
ENGINES_START, ENGINES_END = "<!-- engines:start -->", "<!-- engines:end -->"
SERVING_START, SERVING_END = "<!-- serving:start -->", "<!-- serving:end -->"
INT8_START, INT8_END = "<!-- int8:start -->", "<!-- int8:end -->"
ENGINE_NAMES = {"reference": "tutorial's code (PyTorch, padded to 64)", "torch": "ours, PyTorch fp32",
                "onnx": "ours, ONNX Runtime fp32 (default)", "onnx-int8": "ours, ONNX Runtime int8"}
# The tutorial's bert-base-uncased on a GPU: its notebook's run, and the original post's.
PUBLISHED = {"auc": 0.9048, "accuracy": 0.8059, "post_auc": 0.9006, "post_accuracy": 0.8265}
TARGET = {"auc": 0.905, "accuracy": 0.827}
EXTERNAL_GOAL = 0.93
ENSEMBLE_NAMES = {"refit_ensemble": "refit + baseline (`ensemble.method`)",
                  "refit_seeds": "refit averaged with refits of other seeds"}
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
    stages = result["stages"]
    noop = "not up to date" if stages["dvc_repro_noop_s"] is None else f"{stages['dvc_repro_noop_s']:.2f} s"
    lines += ["", f"Stage wall times, imports included: baseline {stages['baseline_stage_s']:.1f} s, "
                  f"tokenize {stages['tokenize_stage_s']:.1f} s, no-op `dvc repro` {noop}."]
    return "\n".join(lines)


def external_tweets() -> int:
    """How many external tweets the models were scored on."""
    return json.loads((ROOT / "reports" / "external_data.json").read_text())["tweets"]


def metrics(name: str) -> dict:
    """One metrics file of the pipeline."""
    return json.loads((ROOT / "metrics" / f"{name}.json").read_text())


def external_cells(model: dict | None) -> str:
    """External AUC (± its standard error), accuracy and calibration error, or blanks."""
    if model is None:
        return " | |"
    return f"{model['auc']:.4f} ± {model['auc_se']:.4f} | {model['accuracy']:.2%} | {model['calibration_error']:.3f}"


def results_table(timing: dict) -> str:
    """Baseline, tutorial recipe, new default (and its spread over seeds), refit, ensemble, the published figures, on
    validation and on the external set."""
    baseline, tutorial, default, seeds = metrics("baseline"), metrics("tutorial"), metrics("bert"), metrics("seeds")
    combined, compare, external, stages = metrics("ensemble"), metrics("compare"), metrics("external"), timing["stages_s"]
    train = json.loads((ROOT / "models" / "bert" / "training.json").read_text())["train"]
    minutes = lambda name: f"{stages[name] / 60:.1f} min" if stages[name] >= 90 else f"{stages[name]:.0f} s"
    lines = [
        "| model | validation AUC | validation accuracy | chosen on (never validation) | stage time "
        "| external AUC ± SE | external accuracy | external calibration error |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
        f"| tutorial, published: bert-base-uncased on a GPU (original post) | {PUBLISHED['auc']:.4f} ({PUBLISHED['post_auc']:.4f}) "
        f"| {PUBLISHED['accuracy']:.2%} ({PUBLISHED['post_accuracy']:.2%}) | | | {external_cells(None)} |",
        f"| TF-IDF + NB baseline (alpha {baseline['alpha']}) | {baseline['auc']:.4f} | {baseline['accuracy']:.2%} "
        f"| 5-fold CV AUC {baseline['cv_auc']:.4f} | {minutes('baseline')} | {external_cells(external['baseline'])} |",
        f"| tutorial recipe, embedded MiniLM (`tutorial`: cls, {tutorial['epochs']} epochs) | {tutorial['auc']:.4f} "
        f"| {tutorial['accuracy']:.2%} | | {minutes('train@tutorial')} | {external_cells(external['tutorial'])} |",
        f"| new default, seed {train['seed']} (`train`: {train['pooling']} pooling, lr {train['lr']:g}, "
        f"epoch {default['chosen_epoch']} of {default['epochs']} kept) | {default['auc']:.4f} | {default['accuracy']:.2%} "
        f"| dev AUC {default['dev_auc']:.4f} | {minutes('train@bert')} | {external_cells(external['bert'])} |",
        f"| new default, {seeds['seeds']} seeds: mean ± sd (min-max) | {seeds['auc_mean']:.4f} ± {seeds['auc_std']:.4f} "
        f"({seeds['auc_min']:.4f}-{seeds['auc_max']:.4f}) | {seeds['accuracy_mean']:.2%} ± {100 * seeds['accuracy_std']:.2f} "
        f"| | {minutes('seeds')} for {seeds['seeds'] - 1} more | {external_cells(None)} |",
        f"| refit: new default on all 3,400 labeled tweets, {default['chosen_epoch']} epochs (makes the test predictions) "
        f"| (trained on it) | | | {minutes('refit')} | {external_cells(external['refit'])} |",
        f"| ensemble: new default + baseline (`{combined['method']}`) | {combined['auc']:.4f} | {combined['accuracy']:.2%} "
        f"| dev AUC {combined['dev_auc']:.4f} | {minutes('ensemble')} | {external_cells(external['ensemble'])} |",
        f"| refit + baseline (`{combined['method']}`) | (trained on it) | | | | {external_cells(external['refit_ensemble'])} |",
        "",
        "Validation AUC differences on the same 340 tweets, paired bootstrap 95% intervals (`metrics/compare.json`):",
        "",
    ]
    for candidate in ("bert", "ensemble"):
        for reference in ("baseline", "tutorial"):
            pair = f"{candidate}_vs_{reference}"
            lines.append(f"- {'new default' if candidate == 'bert' else 'ensemble'} - {reference}"
                         f"{' recipe' if reference == 'tutorial' else ''}: {compare[f'{pair}_difference']:+.4f} "
                         f"({compare[f'{pair}_ci_low']:+.4f} to {compare[f'{pair}_ci_high']:+.4f})")
    names = {"refit": "refit", "bert": "new default", "tutorial": "tutorial recipe", "baseline": "baseline",
             "ensemble": "ensemble", "refit_ensemble": "refit + baseline", "refit_seeds": "refit seed ensemble"}
    lines += ["", f"External AUC differences on the same {external_tweets():,} tweets, paired bootstrap 95% intervals and "
                  "standard errors (`metrics/external.json`):", ""]
    for key in sorted(external["compare"]):
        if key.endswith("_difference"):
            pair = key[: -len("_difference")]
            candidate, reference = pair.split("_vs_")
            lines.append(f"- {names[candidate]} - {names[reference]}: {external['compare'][key]:+.4f} "
                         f"({external['compare'][f'{pair}_ci_low']:+.4f} to {external['compare'][f'{pair}_ci_high']:+.4f}, "
                         f"SE {external['compare'][f'{pair}_se']:.4f})")
    refit = external["refit"]
    lines += ["", f"Goal, external AUC >= {EXTERNAL_GOAL} for the model that makes the test predictions (refit): "
                  + ("met." if refit["auc"] >= EXTERNAL_GOAL else
                     f"**not met**: {refit['auc']:.4f}, 95% interval {refit['auc'] - 1.96 * refit['auc_se']:.4f} to "
                     f"{refit['auc'] + 1.96 * refit['auc_se']:.4f}, short by {EXTERNAL_GOAL - refit['auc']:.4f}.")]
    best_name, best = max((("new default", default), ("ensemble", combined)), key=lambda pair: pair[1]["auc"])
    beats = best["auc"] >= TARGET["auc"] and best["accuracy"] >= TARGET["accuracy"]
    lines += ["", f"Against the tutorial's bert-base (AUC >= {TARGET['auc']}, accuracy >= {TARGET['accuracy']:.1%}): "
                  + (f"beaten by the {best_name}." if beats else
                     f"**not beaten.** The closest, the {best_name}, is short by {max(0.0, TARGET['auc'] - best['auc']):.4f} AUC "
                     f"and {100 * max(0.0, TARGET['accuracy'] - best['accuracy']):.2f} points of accuracy; the new default "
                     f"alone by {TARGET['auc'] - seeds['auc_mean']:.4f} AUC on its mean over seeds."),
              "", f"Whole default pipeline, `dvc repro --force`: {timing['total_s'] / 60:.1f} min on {timing['machine']['cpu']} "
                  f"({timing['machine']['cores']} cores), {timing['date'][:10]} (`python -m benchmarks.pipeline`)."]
    return "\n".join(lines)


def engines_table(result: dict) -> str:
    """Each engine's speed, latency, memory and share of the fp32 peak, and its agreement with PyTorch."""
    engines = result["engines"]
    lines = [
        f"Benchmark `engines`, {result['date']}, {result['machine']['cpu']} ({result['machine']['cores']} cores): "
        f"{result['tweets']:,} raw test tweets to probabilities, tokenization included, each engine in its own process. "
        f"Encoder matmul work per second against the two cores' fp32 peak: measured (best 2048x2048 float32 matrix "
        f"multiply, {result['measured_peak_gflops']:.0f} GFLOP/s) and nominal (AVX2 FMA at 2.7 GHz, "
        f"{result['nominal_peak_gflops']:.0f} GFLOP/s); int8 does the same work in fewer, narrower operations.",
        "",
        "| engine | tweets/s | vs tutorial | latency p50 / p95, one tweet | peak memory | of fp32 peak: measured (nominal) | largest probability change | labels kept at "
        f"{result['threshold']:g} | non-complaints |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in engines.items():
        agreement = (f"{row['max_probability_change']:.1e} | {row['labels_kept']:.2%} | {row['non_complaints']:,} "
                     f"({row['non_complaints_change']:+d})" if name != "reference" else "| |")
        speed = f"{row['speed_vs_reference']:.2f}x" if name != "reference" else "1.00x"
        lines.append(f"| {ENGINE_NAMES[name]} | {row['tweets_per_s']:,.0f} | {speed} | {row['latency_p50_ms']:.0f} / "
                     f"{row['latency_p95_ms']:.0f} ms | {row['peak_rss_mb']:,.0f} MB | {row['fraction_of_measured_peak']:.0%} "
                     f"({row['fraction_of_fp32_peak']:.0%}) | "
                     f"{agreement} |")
    return "\n".join(lines)


def serving_table(result: dict) -> str:
    """Latency through the predictor and the service, and the CLI on a file."""
    predictor, service, cli = result["predictor"], result["service"], result["cli"]
    return "\n".join([
        f"Benchmark `serving`, {result['date']}, {result['machine']['cpu']} ({result['machine']['cores']} cores), "
        f"engine `{result.get('engine', 'onnx')}`:",
        "",
        "| measure | figure |",
        "|---|---:|",
        f"| one tweet through the predictor, in process: p50 / p95 | {predictor['p50_ms']:.1f} / {predictor['p95_ms']:.1f} ms |",
        f"| one tweet through `POST /predict` on 127.0.0.1: p50 / p95 | {service['p50_ms']:.1f} / {service['p95_ms']:.1f} ms |",
        f"| service start-up until `/health` answers | {service['start_up_s']:.1f} s |",
        f"| `complaints predict` on one tweet, start-up included | {cli['one_tweet_s']:.1f} s |",
        f"| `complaints predict` on a {cli['file_tweets']:,}-tweet CSV into Parquet | {cli['file_s']:.1f} s, "
        f"{cli['file_tweets_per_s']:,.0f} tweets/s |",
    ] + load_table(result))


def load_table(result: dict) -> list[str]:
    """The service under concurrent load, next to the predictor's batched throughput in process."""
    if "load" not in result:
        return []
    ceiling = result["batched_in_process"]["tweets_per_s"]
    lines = ["", f"Under load (`POST /predict` on 127.0.0.1, dynamic batching; the predictor in process, batches of 64: "
                 f"{ceiling:,.0f} tweets/s):", "",
             "| workers | clients | tweets per request | requests/s | tweets/s | of in-process | p50 / p95 / p99 | errors |",
             "|---:|---:|---:|---:|---:|---:|---|---:|"]
    for run in result["load"]:
        lines.append(f"| {run['workers']} | {run['clients']} | {run['tweets_per_request']} | {run['requests_per_s']:,.0f} "
                     f"| {run['tweets_per_s']:,.0f} | {run['tweets_per_s'] / ceiling:.0%} | {run['p50_ms']:.0f} / "
                     f"{run['p95_ms']:.0f} / {run['p99_ms']:.0f} ms | {run['errors']} |")
    return lines


def difference_cells(difference: dict) -> str:
    """An AUC difference with its 95% interval, and its standard error, as two table cells."""
    return (f"{difference['difference']:+.4f} ({difference['ci_low']:+.4f} to {difference['ci_high']:+.4f}) "
            f"| {difference['se']:.5f}")


def switch_text(switch: dict, prefix: str = "") -> str:
    """Params switches as `key=value` code spans."""
    return ", ".join(f"`{prefix}{key}={value}`" for key, value in switch.items())


def options_table(result: dict) -> str:
    """Each recipe option's external AUC against the default's, and each ensemble's against the refit's, with the
    rule's verdict."""
    lines = [
        "| option (`dvc exp` name) | switch | epoch kept (on dev) | dev AUC | external AUC ± SE | vs default: difference "
        "(95% interval) | SE of the difference | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        f"| default ({result['default_epochs']} epochs, the best dev epoch kept) | | | | "
        f"{result['default_external_auc']:.4f} | | | |",
    ]
    lines += [f"| `{option['experiment']}` | {switch_text(option['switch'], 'train.')} | {option['chosen_epoch']} "
              f"| {option['dev_auc']:.4f} | {option['external_auc']:.4f} ± {option['external_auc_se']:.4f} "
              f"| {difference_cells(option['vs_default'])} | {option['verdict']} |" for option in result["options"]]
    if result["ensembles"]:
        lines += ["", "| ensemble against the single refit | `dvc exp` | switch | external AUC ± SE | refit's external AUC "
                  "| difference (95% interval) | SE of the difference | verdict |", "|---|---|---|---:|---:|---:|---:|---|"]
        lines += [f"| {ENSEMBLE_NAMES.get(entry['candidate'], entry['candidate'])} | {entry['experiment']} "
                  f"| {switch_text(entry['switch'])} | {entry['external_auc']:.4f} ± {entry['external_auc_se']:.4f} "
                  f"| {entry['refit_external_auc']:.4f} | {difference_cells(entry['vs_refit'])} | {entry['verdict']} |"
                  for entry in result["ensembles"]]
    lines += ["", f"Scored on {result['date'][:10]} on {result['machine']['cpu']} (`python -m benchmarks.options`)."]
    return "\n".join(lines)


def int8_table(result: dict) -> str:
    """Each int8 option against ONNX fp32, by the export stage's gate, and the sensitivity of each part alone."""
    lines = [f"Benchmark `int8`, {result['date']}, {result['machine']['cpu']} ({result['machine']['cores']} cores); "
             f"ONNX fp32 {result['fp32_tweets_per_s']:,.0f} tweets/s; gate: validation AUC within 0.002, 99.5% of "
             f"test labels kept at {result['threshold']}:", "",
             "| option | test labels kept | validation AUC change | external AUC change | tweets/s | gate |",
             "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {name} | {row['test_labels_kept']:.2%} | {row['val_auc_change']:+.4f} | {row['external_auc_change']:+.4f} "
              f"| {row['tweets_per_s']:,.0f} | {'passes' if row['passes_gate'] else 'fails'} |"
              for name, row in result["options"].items()]
    sensitivity = ", ".join(f"{name} {kept:.2%}" for name, kept in result["sensitivity"].items())
    lines += ["", f"Test labels kept with one part left in fp32 (the rest dynamic int8): {sensitivity}.",
              f"Fastest option that passes: {result['fastest_passing'] or 'none'}."]
    return "\n".join(lines)


def replace_block(text: str, start: str, end: str, block: str) -> str:
    """`text` with the part between the markers `start` and `end` replaced by `block`."""
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block}\n{end}{tail}"


def main(argv: list[str] | None = None) -> None:
    """Replace the README's results, benchmark, engines and serving blocks."""
    path = Path((argv or sys.argv[1:] or [ROOT / "benchmarks" / "results" / "full.json"])[0])
    readme = ROOT / "README.md"
    text = replace_block(readme.read_text(), START, END, table(json.loads(path.read_text())))
    results = ROOT / "benchmarks" / "results"
    text = replace_block(text, RESULTS_START, RESULTS_END, results_table(json.loads((results / "pipeline.json").read_text())))
    text = replace_block(text, ENGINES_START, ENGINES_END, engines_table(json.loads((results / "engines.json").read_text())))
    text = replace_block(text, SERVING_START, SERVING_END, serving_table(json.loads((results / "serving.json").read_text())))
    if (results / "int8.json").is_file():
        text = replace_block(text, INT8_START, INT8_END, int8_table(json.loads((results / "int8.json").read_text())))
    for path in sorted(results.glob("options-round[0-9].json")):
        text = replace_block(text, f"<!-- {path.stem}:start -->", f"<!-- {path.stem}:end -->",
                             options_table(json.loads(path.read_text())))
    readme.write_text(text)


if __name__ == "__main__":
    main()
