"""Write every generated figure of the README and docs/: one command, from git-tracked files only.

Sources: the headline metrics of the committed run (metrics/, `cache: false`), params.yaml, and the benchmark and
test-timing JSON in benchmarks/results/. Each block lies between `<!-- NAME:start -->` and `<!-- NAME:end -->` in the
file BLOCKS names; a test checks that every block equals what this command writes now.
Run:  python -m benchmarks.report           # rewrite the blocks
      python -m benchmarks.report --check   # exit 1 naming each stale block
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.options import training_noise, verdict
from benchmarks.spread import OPTION_MARK
from complaints.evaluation.model_list import load_models

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
METRICS = ROOT / "metrics"
ENGINE_NAMES = {"reference": "tutorial's code (PyTorch, padded to 64)", "torch": "ours, PyTorch fp32",
                "onnx": "ours, ONNX Runtime fp32", "onnx-int8": "ours, ONNX Runtime int8"}
# The tutorial's bert-base-uncased on a GPU: its notebook's run, and the original post's.
PUBLISHED = {"auc": 0.9048, "accuracy": 0.8059, "post_auc": 0.9006, "post_accuracy": 0.8265}
TARGET = {"auc": 0.905, "accuracy": 0.827}
EXTERNAL_GOAL = 0.93
ENSEMBLE_NAMES = {"refit_ensemble": "refit + baseline (`ensemble.method`)",
                  "refit_seeds": "refit averaged with refits of other seeds"}


def model_rows() -> list[tuple[str, str, str]]:
    """Each row of the results table: its label, its validation metrics file and its external one (under metrics/):
    the baseline, every model of the models list (params.yaml) and the combinations."""
    rows = [("TF-IDF + NB baseline", "baseline.json", "external/baseline.json")]
    rows += [(f"`{name}`: {entry.describe()}", f"{name}.json", str(entry.external_metrics(Path())))
             for name, entry in load_models(ROOT / "params.yaml").items()]
    return rows + [("default recipe, mean over seeds (`seeds`)", "seeds.json", ""),
                   ("default + baseline (`ensemble`)", "ensemble.json", "external/ensemble.json"),
                   (ENSEMBLE_NAMES["refit_ensemble"], "", "external/refit_ensemble.json"),
                   (ENSEMBLE_NAMES["refit_seeds"], "", "external/refit_seeds.json"),
                   ("default + teacher averaged with the chosen share (`bert_teacher`): the students' teacher",
                    "bert_teacher.json", "external_distill/bert_teacher.json"),
                   ("serving folder: the released recipe's refit on the default engine (makes the test predictions)",
                    "", "external/serving.json")]


# Within how much of the ensemble that teaches it the student must come on the external set.
STUDENT_GAP_GOAL = 0.005
# The largest seed standard deviation of the served model's external AUC the goals allow.
SEED_STD_GOAL = 0.003
# The teacher's stability goal (issue 35): a seed deviation of external AUC at most this, its mean at least the
# committed run's.
TEACHER_STD_GOAL = 0.004
# The default `make pipeline`'s budget on a 2-core machine.
PIPELINE_BUDGET_S = 40 * 60
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


def result(name: str) -> dict:
    """One benchmark's JSON in benchmarks/results/."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def headline(path: str) -> dict | None:
    """One headline metrics file (a path under metrics/), or None when the run wrote none."""
    file = METRICS / path
    return json.loads(file.read_text()) if file.is_file() else None


def machine(run: dict) -> str:
    """Where and when a benchmark ran, in words."""
    return f"{run['machine']['cpu']} ({run['machine']['cores']} cores), {run['date'][:10]}"


def minutes(seconds: float) -> str:
    """A duration in minutes, or seconds under a minute and a half."""
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


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


def cells(figures: dict | None, with_se: bool = False) -> str:
    """AUC (± its standard error), accuracy and F1 as three table cells, or blanks."""
    if figures is None:
        return " | |"
    auc = f"{figures['auc']:.4f} ± {figures['auc_se']:.4f}" if with_se else f"{figures['auc']:.4f}"
    return f"{auc} | {figures['accuracy']:.2%} | {figures['f1']:.4f}"


# The spread's recipes and fits (benchmarks/results/spread.json) as the results table names their models.
def spread_cell(figure: dict | None, digits: int = 4, percent: bool = False) -> str:
    """A figure over seeds: mean ± standard deviation (min to max); at one seed, its value."""
    if figure is None:
        return ""
    scale, unit = (100, "%") if percent else (1, "")
    if figure["min"] == figure["max"]:  # one seed
        return f"{scale * figure['mean']:.{digits}f}{unit}"
    return (f"{scale * figure['mean']:.{digits}f}{unit} ± {scale * figure['std']:.{digits}f} "
            f"({scale * figure['min']:.{digits}f} to {scale * figure['max']:.{digits}f})")


def spread_fits() -> dict[str, dict]:
    """The spread of each model of the models list measured at two seeds or more, in the list's order: a train fit
    under its own name, a refit under its refit's name."""
    path = RESULTS / "spread.json"
    recipes = json.loads(path.read_text())["recipes"] if path.is_file() else {}
    models = load_models(ROOT / "params.yaml")
    refits = {entry.fit: name for name, entry in models.items() if entry.fit}
    fits = {}
    for name in models:
        for fit, measured in recipes.get(name, {}).get("fits", {}).items():
            if len(measured["seeds"]) > 1:  # one seed has no spread yet
                fits[name if fit == "train" else refits[name]] = measured
    return dict(sorted(fits.items(), key=lambda item: list(models).index(item[0])))


def spread_lines() -> list[str]:
    """The training spread of each recipe that ships or teaches, next to the committed run's external AUC."""
    fits = spread_fits()
    if not fits:
        return []
    spread = result("spread")
    lines = ["", f"Training spread: the same stage at other seeds, nothing else changed (`python -m benchmarks.spread`, "
                 f"{machine(spread)}); mean ± standard deviation (min to max) over the seeds:", "",
             "| model | seeds | validation AUC | validation accuracy | external AUC | committed run's external AUC |",
             "|---|---|---:|---:|---:|---:|"]
    models = load_models(ROOT / "params.yaml")
    for model, measured in fits.items():
        committed = headline(str(models[model].external_metrics(Path())))
        committed_auc = f"{committed['auc']:.4f}" if committed else "-"
        lines.append(f"| `{model}` | {', '.join(map(str, measured['seeds']))} "
                     f"| {spread_cell(measured.get('val_auc'))} | {spread_cell(measured.get('val_accuracy'), 2, True)} "
                     f"| {spread_cell(measured['external_auc'])} | {committed_auc} |")
    return lines


def goal_distance(mean_short: float, deviation_over: float) -> str:
    """A seed-mean goal's verdict: met, or what misses it (the mean, the deviation, or both) and by how much."""
    misses = ([f"short by {mean_short:.4f} in the mean"] if mean_short > 0 else []) + (
        [f"over by {deviation_over:.4f} in the deviation"] if deviation_over > 0 else [])
    return f"**not met**, {' and '.join(misses)}." if misses else "met."


def seed_mean_goals(recipe: str) -> list[str]:
    """The goals judged on the spread's seed means, for what the spread has measured: the released recipe's refit
    and fit, and the student."""
    fits, models = spread_fits(), load_models(ROOT / "params.yaml")
    refit = next((name for name, entry in models.items() if entry.fit == recipe), None)
    lines = []
    if served := fits.get(refit):
        auc = served["external_auc"]
        lines.append(f"- On seed means ({len(served['seeds'])} seeds of the released recipe's refit, `{refit}`): external "
                     f"AUC {auc['mean']:.4f} ± {auc['std']:.4f}, goal at least {EXTERNAL_GOAL} with a seed standard "
                     f"deviation of at most {SEED_STD_GOAL}: "
                     + goal_distance(EXTERNAL_GOAL - auc["mean"], auc["std"] - SEED_STD_GOAL))
    if trained := fits.get(recipe):
        lines.append(f"- On seed means ({len(trained['seeds'])} seeds of `{recipe}`): validation AUC "
                     f"{trained['val_auc']['mean']:.4f} and accuracy {trained['val_accuracy']['mean']:.2%} against the "
                     f"tutorial's {TARGET['auc']} and {TARGET['accuracy']:.1%}: "
                     + ("beaten." if trained["val_auc"]["mean"] >= TARGET["auc"]
                        and trained["val_accuracy"]["mean"] >= TARGET["accuracy"] else
                        f"**not beaten**, short by {max(0.0, TARGET['auc'] - trained['val_auc']['mean']):.4f} AUC and "
                        f"{100 * max(0.0, TARGET['accuracy'] - trained['val_accuracy']['mean']):.2f} points."))
    if (student := fits.get("student")) and (teacher := headline("external_distill/bert_teacher.json")):
        gap = student["external_auc"]["mean"] - teacher["auc"]
        lines.append(f"- On seed means ({len(student['seeds'])} seeds of `student`): against the ensemble that teaches "
                     f"it (the committed `bert_teacher`), {gap:+.4f} on the external set (goal within "
                     f"{STUDENT_GAP_GOAL}): "
                     + ("met." if gap >= -STUDENT_GAP_GOAL else f"**not met**, {-gap - STUDENT_GAP_GOAL:.4f} further "
                        f"than allowed."))
    if (teacher_fit := fits.get("teacher")) and (committed := headline("external_distill/teacher.json")):
        auc = teacher_fit["external_auc"]
        lines.append(f"- On seed means ({len(teacher_fit['seeds'])} seeds of `teacher`): external AUC {auc['mean']:.4f} "
                     f"± {auc['std']:.4f}, goal a seed standard deviation of at most {TEACHER_STD_GOAL} with a mean at "
                     f"least the committed run's {committed['auc']:.4f}: "
                     + goal_distance(committed["auc"] - auc["mean"], auc["std"] - TEACHER_STD_GOAL))
    return lines


def results_block() -> str:
    """Every model on validation and on the external set, the threshold, the engines, the goals."""
    lines = ["| model | validation AUC | accuracy | F1 | external AUC ± SE | accuracy | F1 |",
             "|---|---:|---:|---:|---:|---:|---:|",
             f"| tutorial, published: bert-base-uncased on a GPU (original post) | {PUBLISHED['auc']:.4f} "
             f"({PUBLISHED['post_auc']:.4f}) | {PUBLISHED['accuracy']:.2%} ({PUBLISHED['post_accuracy']:.2%}) | | | | |"]
    for label, validation_file, external_file in model_rows():
        validation = headline(validation_file) if validation_file else None
        external = headline(external_file) if external_file else None
        if validation or external:
            lines.append(f"| {label} | {cells(validation)} | {cells(external, with_se=True)} |")
    threshold = headline("threshold.json")
    engine = yaml.safe_load((ROOT / "params.yaml").read_text())["predict"]["engine"]
    kept = ", ".join(f"`{path.stem}` {headline(f'engines/{path.name}')['labels_kept']:.2%}"
                     for path in sorted((METRICS / "engines").glob("*.json")))
    recipe = yaml.safe_load((ROOT / "params.yaml").read_text())["release"]["recipe"]
    serving, released = headline("external/serving.json"), headline(f"{recipe}.json")
    low, high = serving["auc"] - 1.96 * serving["auc_se"], serving["auc"] + 1.96 * serving["auc_se"]
    # The committed run of the teacher's chain, as benchmarks.options recorded it (reports/ is not in git).
    recorded = result("external")
    gap = recorded["comparisons"]["student_vs_bert_teacher"]
    lines += ["", f"The threshold {threshold['threshold']:g} calls {threshold['non_complaints']:,} of the test tweets "
                  f"non-complaints. Test labels each ONNX engine keeps against PyTorch at it: {kept}; the default engine "
                  f"is `{engine}`.",
              "", f"- External AUC of the model that makes the test predictions (`serving`, recipe `{recipe}`), goal "
                  f"{EXTERNAL_GOAL}: {serving['auc']:.4f} (95% interval {low:.4f} to {high:.4f}), "
                  + ("met." if serving["auc"] >= EXTERNAL_GOAL else f"**not met**, short by "
                     f"{EXTERNAL_GOAL - serving['auc']:.4f}."),
              f"- The student against the ensemble that teaches it (`student` - `bert_teacher`, external; the "
              f"committed run of distill/dvc.yaml, {machine(recorded)}), goal within "
              f"{STUDENT_GAP_GOAL}: {gap['difference']:+.4f} (95% interval {gap['ci_low']:+.4f} to {gap['ci_high']:+.4f}), "
              + ("met." if gap["difference"] >= -STUDENT_GAP_GOAL else
                 f"**not met**, {-gap['difference'] - STUDENT_GAP_GOAL:.4f} further than allowed."),
              f"- Against the tutorial's bert-base on validation (AUC {TARGET['auc']}, accuracy {TARGET['accuracy']:.1%}), "
              f"the released recipe (`{recipe}`, trained without validation): AUC {released['auc']:.4f}, accuracy "
              f"{released['accuracy']:.2%}, "
              + ("beaten." if released["auc"] >= TARGET["auc"] and released["accuracy"] >= TARGET["accuracy"]
                 else f"**not beaten**, short by {max(0.0, TARGET['auc'] - released['auc']):.4f} AUC and "
                      f"{100 * max(0.0, TARGET['accuracy'] - released['accuracy']):.2f} points of accuracy.")]
    return "\n".join(lines + seed_mean_goals(recipe) + spread_lines())


def commands_block() -> str:
    """What the two commands cost, measured."""
    pipeline = result("pipeline")
    within = "within" if pipeline["total_s"] <= PIPELINE_BUDGET_S else "**over**"
    lines = [f"- `make pipeline` (the quick path, dvc.yaml alone): `dvc repro --force` took "
             f"{minutes(pipeline['total_s'])} on {machine(pipeline)} after the install, {within} the "
             f"{PIPELINE_BUDGET_S // 60} min budget."]
    if (RESULTS / "pipeline_distilled.json").is_file():
        distilled = result("pipeline_distilled")
        lines.append(f"- `make pipeline-distilled` (the teacher's chain first): {minutes(distilled['total_s'])} on a "
                     f"fresh clone, {machine(distilled)}.")
    else:
        lines.append("- `make pipeline-distilled` (the teacher's chain first): not timed on this design yet "
                     "(`python -m benchmarks.pipeline --distilled`).")
    if not (RESULTS / "tests.json").is_file():
        return "\n".join(lines + ["- `make test`, `make test-fast`: not measured yet (`python -m benchmarks.tests`)."])
    tests = result("tests")
    fast, full = tests["tiers"]["test-fast"], tests["tiers"]["test"]
    return "\n".join(lines + [
        f"- `make test`: {full['passed']} tests passed in {minutes(full['wall_s'])} on {machine(tests)}.",
        f"- `make test-fast`: {fast['passed']} tests in {minutes(fast['wall_s'])}.",
    ])


def stages_block() -> str:
    """Each stage's wall time in the run that wrote the committed dvc.lock."""
    pipeline = result("pipeline")
    lines = [f"`dvc repro --force`, {minutes(pipeline['total_s'])} on {machine(pipeline)} "
             "(`python -m benchmarks.pipeline`):", "", "| stage | wall time |", "|---|---:|"]
    lines += [f"| `{name}` | {minutes(seconds)} |" for name, seconds in pipeline["stages_s"].items()]
    return "\n".join(lines)


def stage_table_block() -> str:
    """Every stage of dvc.yaml and distill/dvc.yaml as DVC resolves them: what each reads and writes (the code it
    depends on left out: the deps test keeps it equal to the imports)."""
    from dvc.repo import Repo

    def listed(paths: list[str]) -> str:
        return ", ".join(f"`{path}`" for path in paths)

    lines = ["| stage | reads | params | writes |", "|---|---|---|---|"]
    with Repo(str(ROOT)) as repo:
        for stage in repo.index.stages:
            inputs = [str(Path(dep.fs_path).relative_to(ROOT)) for dep in stage.deps if not hasattr(dep, "params")]
            inputs = [path for path in inputs if not path.startswith(("src/", "stages/"))]
            params = [key for dep in stage.deps if hasattr(dep, "params") for key in (dep.params or [])]
            outputs = [str(Path(out.fs_path).relative_to(ROOT)) for out in stage.outs]
            lines.append(f"| `{stage.addressing}` | {listed(inputs)} | {listed(params)} | {listed(outputs)} |")
    return "\n".join(lines)


def tests_block() -> str:
    """The two test tiers and the slowest tests of the full suite."""
    if not (RESULTS / "tests.json").is_file():
        return "Not measured yet (`python -m benchmarks.tests`)."
    tests = result("tests")
    lines = [f"Measured on {machine(tests)} (`python -m benchmarks.tests`):", "",
             "| tier | tests | wall time |", "|---|---:|---:|"]
    lines += [f"| `make {name}` | {tier['passed']} | {minutes(tier['wall_s'])} |" for name, tier in tests["tiers"].items()]
    lines += ["", "Slowest in `make test` (a module's shared fixture is paid by its first test):", "",
              "| s | test |", "|---:|---|"]
    lines += [f"| {row['s']:.1f} | `{row['test']}` |" for row in tests["tiers"]["test"]["slowest"]]
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
    """The service under concurrent load, next to the predictor's arrival-order throughput in process on the same
    tweets, the targets judged against it, and the cause of the distance."""
    if "load" not in result:
        return []
    batched = result["batched_in_process"]
    ceiling, arrival = batched["tweets_per_s"], batched["arrival_order_tweets_per_s"]
    generator = result.get("load_generator", "python-httpx-threads")
    lines = ["", f"Under load from `{generator}` (`POST /predict` on 127.0.0.1, dynamic batching, `serve.batch_size` "
                 f"{batched['service_batch_size']}). \"Of in-process\" is against the predictor in process in the same "
                 f"run, on the same {batched['tweets']:,} tweets handed to it 32 at a time in arrival order "
                 f"({arrival:,.0f} tweets/s; all of them length-sorted into batches of 64: {ceiling:,.0f}):", "",
             "| workers | clients | tweets per request | requests/s | tweets/s | of in-process | p50 / p95 / p99 | errors "
             "| server CPU per tweet | client's share of the CPU used |",
             "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for run in result["load"]:
        lines.append(f"| {run['workers']} | {run['clients']} | {run['tweets_per_request']} | {run['requests_per_s']:,.0f} "
                     f"| {run['tweets_per_s']:,.0f} | {run['tweets_per_s'] / arrival:.0%} | {run['p50_ms']:.0f} / "
                     f"{run['p95_ms']:.0f} / {run['p99_ms']:.0f} ms | {run['errors']} "
                     f"| {run['server_cpu_ms_per_tweet']:.1f} ms | {run['client_cpu_share']:.0%} |")
    single = {run["clients"]: run for run in result["load"] if run["workers"] == 1 and run["tweets_per_request"] == 1}
    many, one = single[max(single)], single[min(single)]
    share = many["tweets_per_s"] / arrival
    # Little's law: a closed loop of N clients waits N / throughput on average; the target allows half again.
    p95_bound = 1.5 * 1000 * many["clients"] / arrival
    lines += ["", f"Targets, one worker, single-tweet requests: at {many['clients']} clients at least 80% of the "
                  f"in-process arrival-order throughput, with p95 at most 1.5 x ({many['clients']} / that throughput) "
                  f"= {p95_bound:.0f} ms: {share:.0%} and {many['p95_ms']:.0f} ms, "
                  + ("met." if share >= 0.8 and many["p95_ms"] <= p95_bound else
                     f"**missed** by {max(0.0, 0.8 - share):.0%} of throughput and "
                     f"{max(0.0, many['p95_ms'] - p95_bound):.0f} ms.")
                  + f" At {one['clients']} client, p95 at most 15 ms through HTTP: {one['p95_ms']:.0f} ms, "
                  + ("met." if one["p95_ms"] <= 15 else "**missed**."),
              "", f"Where the time goes, measured: the server's threads (ONNX Runtime's two included, which spin "
                  f"while they wait for the next call) used {many['server_cpu_ms_per_tweet']:.1f} ms of CPU per "
                  f"single-tweet request at {many['clients']} clients ({one['server_cpu_ms_per_tweet']:.1f} ms at "
                  f"{one['clients']}), against {1000 / arrival:.1f} ms of wall time per tweet for the model calls "
                  f"alone in process. The load generator took {many['client_cpu_share']:.0%} of the CPU time used. "
                  f"Length-sorting all "
                  f"{batched['tweets']:,} tweets first would give {ceiling:,.0f} tweets/s, which concurrent requests "
                  f"cannot reach (requests not yet arrived cannot be sorted in); with batches of 64 instead of "
                  f"{batched['service_batch_size']}, arrival order gives "
                  f"{batched['arrival_order_batch_64_tweets_per_s']:,.0f} tweets/s: a batch pads every tweet to its "
                  f"longest, so smaller model calls inside one gathered batch pad less."]
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
    if result.get("model") == "teacher":
        lines[2] = (f"| default teacher (`teacher_train`, the best of {result['default_epochs']} dev epochs) | | | | "
                    f"{result['default_external_auc']:.4f} | | | |")
    if result.get("model") == "student":
        distill = result["default_distill"]
        lines[2] = (f"| default student (T {distill['temperature']}, alpha {distill['alpha']}, teacher "
                    f"`{distill['teacher']}`, unlabeled tweets {'in' if distill['unlabeled'] else 'out'}; the best of "
                    f"{result['default_epochs']} dev epochs) | | | | {result['default_external_auc']:.4f} | | | |")
    # Rounds 1 and 2 recorded `train` keys without their section.
    prefix = "" if "model" in result else "train."
    noise = training_noise(result.get("model", "bert"))
    lines[0] += " counting training's noise |"
    lines[1] += "---|"
    lines[2] += " |"
    lines += [f"| `{option['experiment']}` | {switch_text(option['switch'], prefix)} | {option['chosen_epoch']} "
              f"| {option['dev_auc']:.4f} | {option['external_auc']:.4f} ± {option['external_auc_se']:.4f} "
              f"| {difference_cells(option['vs_default'])} | {option['verdict']} "
              f"| {'no spread yet' if noise is None else verdict(option['vs_default'], noise)} |"
              for option in result["options"]]
    if result["ensembles"]:
        lines += ["", "| ensemble against the single refit | `dvc exp` | switch | external AUC ± SE | refit's external AUC "
                  "| difference (95% interval) | SE of the difference | verdict |", "|---|---|---|---:|---:|---:|---:|---|"]
        lines += [f"| {ENSEMBLE_NAMES.get(entry['candidate'], entry['candidate'])} | {entry['experiment']} "
                  f"| {switch_text(entry['switch'])} | {entry['external_auc']:.4f} ± {entry['external_auc_se']:.4f} "
                  f"| {entry['refit_external_auc']:.4f} | {difference_cells(entry['vs_refit'])} | {entry['verdict']} |"
                  for entry in result["ensembles"]]
    lines += ["", f"Scored on {result['date'][:10]} on {result['machine']['cpu']} (`python -m benchmarks.options`)."]
    return "\n".join(lines)


def teacher_weight_block() -> str:
    """The external AUC of the two encoders' average at each teacher's share, and the best share against 0.5."""
    weight = result("external")["teacher_weight"]
    difference = {key: weight[f"best_vs_average_{key}"] for key in ("difference", "ci_low", "ci_high", "se")}
    lines = ["| teacher's share | " + " | ".join(f"{row['teacher_weight']:.1f}" for row in weight["sweep"]) + " |",
             "|---|" + "---:|" * len(weight["sweep"]),
             "| external AUC | " + " | ".join(f"{row['auc']:.4f}" for row in weight["sweep"]) + " |", "",
             f"Best share {weight['best']:.1f} against the plain average: {difference_cells(difference).replace(' | ', ', SE ')}"
             f": {weight['verdict']}. Chosen by the `teacher_share` stage: {weight['teacher_weight']:.1f}."]
    return "\n".join(lines)


def determinism_block() -> str:
    """Each machine's fine-tune digests and times under MKL's default, AVX2 and compatible branches."""
    machines = result("determinism")["machines"]
    lines = ["| CPU (date) | fine-tune | MKL branch | seconds | cost | weights SHA-256 (first 16) |",
             "|---|---|---|---:|---:|---|"]
    for cpu, entry in sorted(machines.items()):
        for kind, runs in entry["fine_tunes"].items():
            lines += [f"| {cpu} ({entry['date'][:10]}, ATen {entry['aten_cpu_capability']}, {entry['threads']} threads) "
                      f"| {kind} | {branch} | {run['seconds']:.1f} | {run['cost_vs_default']:+.0%} "
                      f"| `{run['weights_sha256'][:16]}` |" for branch, run in runs.items()]
    digests = {(kind, branch): {entry["fine_tunes"][kind][branch]["weights_sha256"] for entry in machines.values()}
               for entry in machines.values() for kind in entry["fine_tunes"] for branch in entry["fine_tunes"][kind]}
    if len(machines) < 2:
        verdict = (f"Measured on one CPU kind only ({', '.join(machines)}): whether a branch gives the same bytes on "
                   f"the other kind needs `python -m benchmarks.determinism` run there.")
    else:
        same = sorted(f"{kind} under {branch}" for (kind, branch), found in digests.items() if len(found) == 1)
        verdict = f"The same bytes on every CPU measured: {', '.join(same) or 'none'}."
    return "\n".join(lines + ["", verdict])


def selection_block() -> str:
    """What choosing the teacher's share on the reported tweets adds to the reported AUC."""
    run = result("selection")
    return (f"Chosen on all {run['tweets']:,} external tweets, the share is {run['chosen_on_all']:.1f}. Over "
            f"{run['splits']} random halvings (`python -m benchmarks.selection`, {machine(run)}), the share chosen on "
            f"one half and reported on the other gives AUC {run['honest_auc_mean']:.4f} on average; chosen on the "
            f"reported half itself, {run['in_sample_auc_mean']:.4f}: choosing on the reported tweets inflates them by "
            f"{run['inflation_mean']:+.4f} on average (SD {run['inflation_std']:.4f}, at most "
            f"{run['inflation_max']:+.4f}).")


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


def large_block() -> str:
    """The two releases side by side: external AUC (the committed run's metrics) and speed (`benchmarks.large`)."""
    speed = result("large")
    rows = (("complaint-classifier", "default", headline("external/serving.json")),
            ("complaint-classifier-large", "large", headline("external_distill/bert_teacher.json")))
    lines = ["| release | engine | external AUC ± SE | tweets/s | one tweet, p50 / p95 | peak memory |",
             "|---|---|---:|---:|---:|---:|"]
    for name, side, external in rows:
        figures = speed["sides"][side]
        auc = f"{external['auc']:.4f} ± {external['auc_se']:.4f}" if external else "-"
        lines.append(f"| `{name}` | `{figures['engine']}` | {auc} | "
                     f"{figures['tweets_per_s']:,.0f} | {figures['latency_p50_ms']:.1f} / {figures['latency_p95_ms']:.1f} ms | "
                     f"{figures['peak_rss_mb']:,.0f} MB |")
    lines += ["", f"Speeds: raw test tweets to probabilities, `python -m benchmarks.large` on {machine(speed)}; the large "
                  f"release runs at {speed['large_speed_share']:.0%} of the default's speed. Its external AUC is its "
                  f"members' PyTorch average (`bert_teacher`), which its ONNX graphs match to 1e-4."]
    return "\n".join(lines)


def depth_block() -> str:
    """Each student refit's speed by its encoder's depth, against the tutorial's code, and the shallower student's
    verdict by the rule counting training's noise."""
    depth = result("depth")
    lines = [f"`python -m benchmarks.depth` on {machine(depth)}: {depth['tweets']:,} raw test tweets to probabilities "
             f"through PyTorch fp32, tokenization included, each model in its own process:", "",
             "| model | encoder layers | tweets/s | vs tutorial's code | latency p50 / p95, one tweet | peak memory |",
             "|---|---:|---:|---:|---|---:|"]
    for name, figures in depth["sides"].items():
        label = name if "encoder_layers" not in figures else f"`{name}`"
        lines.append(f"| {label} | {figures.get('encoder_layers', 6)} | {figures['tweets_per_s']:,.0f} "
                     f"| {figures['speed_vs_tutorial']:.2f}x | {figures['latency_p50_ms']:.1f} / "
                     f"{figures['latency_p95_ms']:.1f} ms | {figures['peak_rss_mb']:,.0f} MB |")
    return "\n".join(lines + ["", comparisons_block()])


def comparisons_block() -> str:
    """Each pair of models judged by the rule counting training's noise (`benchmarks.spread --judge`)."""
    spread = result("spread")
    lines = []
    for comparison in spread.get("comparisons", {}).values():
        if OPTION_MARK in comparison["candidate"]:  # an option's verdict is in its round's table
            continue
        seeds = "; ".join(f"`{name}` seeds {', '.join(map(str, numbers))}" for name, numbers in comparison["seeds"].items())
        lines.append(f"`{comparison['candidate']}` against `{comparison['reference']}` on the external set, by the rule "
                     f"counting training's noise (`python -m benchmarks.spread --judge`, {machine(spread)}; {seeds}): "
                     f"difference of seed means {comparison['difference_of_seed_means']:+.4f}, standard error "
                     f"{comparison['se']:.4f} (the paired bootstrap's {comparison['bootstrap_se']:.4f} with the seeds' "
                     f"{comparison['seed_variance'] ** 0.5:.4f}): **{comparison['verdict']}**.")
    return "\n\n".join(lines) or "Not judged yet (`python -m benchmarks.spread --judge`)."


def option_spread_table(recipe: str) -> str:
    """Each option of a recipe measured at seeds (`benchmarks.spread --option`), against the recipe's own seeds, with
    the verdict of the rule counting training's noise."""
    spread = result("spread")
    reference = spread["recipes"][recipe]["fits"]["train"]
    options = {name: entry for name, entry in spread.get("options", {}).items() if entry["recipe"] == recipe}
    if not options:
        return f"No option of `{recipe}` measured yet (`python -m benchmarks.spread --recipe {recipe} --option`)."

    def epochs(fit: dict) -> str:
        return ", ".join(str(fit["per_seed"][str(seed)]["chosen_epoch"]) for seed in fit["seeds"])

    lines = ["| option | switch | seeds | epochs kept | validation AUC | external AUC | vs today's recipe: difference "
             "of seed means | SE (bootstrap; seeds) | verdict |", "|---|---|---|---|---:|---:|---:|---:|---|",
             f"| today's recipe | | {', '.join(map(str, reference['seeds']))} | {epochs(reference)} "
             f"| {spread_cell(reference['val_auc'])} | {spread_cell(reference['external_auc'])} | | | |"]
    for name, entry in options.items():
        fit = entry["fits"]["train"]
        comparison = spread.get("comparisons", {}).get(f"{name}_vs_{recipe}")
        if comparison is None:
            judged = "| | not judged yet |"
        else:
            verdict_text = ("dropped: loses by more than 0.02 at one seed" if comparison["dropped"]
                            else comparison["verdict"])
            judged = (f"{comparison['difference_of_seed_means']:+.4f} | {comparison['se']:.4f} "
                      f"({comparison['bootstrap_se']:.4f}; {comparison['seed_variance'] ** 0.5:.4f}) | {verdict_text} |")
        lines.append(f"| `{name.split(OPTION_MARK)[1]}` | {switch_text(entry['switch'])} "
                     f"| {', '.join(map(str, fit['seeds']))} | {epochs(fit)} | {spread_cell(fit['val_auc'])} "
                     f"| {spread_cell(fit['external_auc'])} | {judged}")
    lines += ["", f"Trained and scored by `python -m benchmarks.spread --option` and judged by `--judge` on "
                  f"{machine(spread)}; mean ± standard deviation (min to max) over the seeds. An option at one seed "
                  f"borrows today's recipe's seed deviation."]
    return "\n".join(lines)


def replace_block(text: str, name: str, block: str, path: Path) -> str:
    """`text` with the part between NAME's markers replaced by `block`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{path}: no {start} ... {end} block")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block}\n{end}{tail}"


BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "commands": ("README.md", commands_block),
    "results": ("README.md", results_block),
    "large": ("README.md", large_block),
    "stages": ("docs/pipeline.md", stages_block),
    "options-round1": ("docs/quality.md", lambda: options_table(result("options-round1"))),
    "options-round2": ("docs/quality.md", lambda: options_table(result("options-round2"))),
    "teacher-weight": ("docs/quality.md", teacher_weight_block),
    "stage-table": ("docs/pipeline.md", stage_table_block),
    "selection": ("docs/quality.md", selection_block),
    "options-round3": ("docs/quality.md", lambda: options_table(result("options-round3"))),
    "options-round4": ("docs/quality.md", lambda: options_table(result("options-round4"))),
    "benchmark": ("docs/performance.md", lambda: table(result("full"))),
    "engines": ("docs/performance.md", lambda: engines_table(result("engines"))),
    "int8": ("docs/performance.md", lambda: int8_table(result("int8"))),
    "depth": ("docs/performance.md", depth_block),
    "comparisons": ("docs/quality.md", comparisons_block),
    "options-round5": ("docs/quality.md", lambda: option_spread_table("teacher")),
    "serving": ("docs/serving.md", lambda: serving_table(result("serving"))),
    "tests": ("docs/reliability.md", tests_block),
    "determinism": ("docs/reliability.md", determinism_block),
}


def rendered() -> dict[Path, tuple[str, str]]:
    """Each document as it is and as this command writes it: path -> (now, generated)."""
    documents: dict[Path, tuple[str, str]] = {}
    for name, (file, render) in BLOCKS.items():
        path = ROOT / file
        if path not in documents:
            text = path.read_text()
            documents[path] = (text, text)
        now, generated = documents[path]
        documents[path] = (now, replace_block(generated, name, render(), path))
    return documents


def main(argv: list[str] | None = None) -> None:
    """Rewrite every block, or with --check list the stale ones and exit 1."""
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = {path: generated for path, (now, generated) in rendered().items() if now != generated}
    if check:
        if stale:
            raise SystemExit("stale generated blocks in " + ", ".join(str(path.relative_to(ROOT)) for path in stale)
                             + "; run `python -m benchmarks.report`")
        return
    for path, generated in stale.items():
        path.write_text(generated)


if __name__ == "__main__":
    main()
