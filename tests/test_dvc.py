"""dvc.yaml against the code: deps are exactly the imported modules, params keys exist, reruns are exact."""
import ast
import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run

DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def project_imports(path: Path, seen: set[str] | None = None) -> set[str]:
    """Files of the `complaints` package that `path` imports, transitively."""
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            file = ROOT / "src" / (name.replace(".", "/") + ".py")
            if name.startswith("complaints.") and file.exists() and str(file) not in seen:
                seen.add(str(file))
                project_imports(file, seen)
    return seen


def imported_packages(script: Path) -> set[str]:
    """The `complaints` subpackage folders that a stage script imports from, transitively."""
    return {str(Path(file).parent.relative_to(ROOT)) for file in project_imports(script)}


def expand(value, names: dict[str, str]):
    """A template's value with each `${name}` filled in."""
    if isinstance(value, str):
        for name, text in names.items():
            value = value.replace("${" + name + "}", text)
        return value
    if isinstance(value, list):
        return [expand(entry, names) for entry in value]
    if isinstance(value, dict):
        return {name: expand(entry, names) for name, entry in value.items()}
    return value


def params_value(reference: str):
    """The params.yaml value a `${section.key}` reference names."""
    node = PARAMS
    for part in reference.strip("${}").split("."):
        node = node[part]
    return node


def resolved_stages() -> dict[str, dict]:
    """dvc.yaml's stages as DVC names them, `foreach` groups (`train@bert`) and `matrix` groups (`seed@train-1`)
    expanded."""
    stages = {}
    for name, stage in DVC_YAML["stages"].items():
        if "foreach" in stage:
            items = stage["foreach"]
            pairs = items.items() if isinstance(items, dict) else ((item, item) for item in items)
            stages |= {f"{name}@{key}": expand(stage["do"], {"key": key, "item": item}) for key, item in pairs}
        elif "matrix" in stage:
            axes = {axis: params_value(values) for axis, values in stage["matrix"].items()}
            template = {field: value for field, value in stage.items() if field != "matrix"}
            for combination in itertools.product(*axes.values()):
                names = {f"item.{axis}": str(value) for axis, value in zip(axes, combination)}
                stages[f"{name}@{'-'.join(map(str, combination))}"] = expand(template, names)
        else:
            stages[name] = stage
    return stages


STAGES = resolved_stages()


def test_resolved_stages_match_dvcs_own_list():
    listed = run(["dvc", "stage", "list", "--name-only"], ROOT).stdout.split()
    assert sorted(listed) == sorted(STAGES)


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_deps_are_exactly_its_script_and_imported_packages(name):
    stage = STAGES[name]
    script = ROOT / (re.search(r"python -m (stages\.\w+)", stage["cmd"]).group(1).replace(".", "/") + ".py")
    code_deps = {dep for dep in stage["deps"] if dep.endswith(".py") or dep.startswith("src/")}
    assert code_deps == {str(script.relative_to(ROOT))} | imported_packages(script)


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_params_exist(name):
    entries = STAGES[name].get("params", [])
    keys = [key for entry in entries for key in (entry["params.yaml"] if isinstance(entry, dict) else [entry])]
    for key in keys:
        node = PARAMS
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"stage {name}: params key {key} not in params.yaml"
            node = node[part]


FINE_TUNING_STAGES = ("train@bert", "train@tutorial", "teacher", "refit", "student", "student_full") + tuple(name for name in STAGES if name.startswith("seed@"))
# What fine-tuning needs, three packages: the plumbing (params, files, threads, the label words, plain metrics), the
# text to token ids, and the model with its loop and distillation loss.
TRAINING_CLOSURE = {"src/complaints/core", "src/complaints/text", "src/complaints/modeling"}


@pytest.mark.parametrize("name", FINE_TUNING_STAGES)
def test_a_fine_tuning_stage_depends_on_the_training_closure_only(name):
    packages = {dep for dep in STAGES[name]["deps"] if dep.startswith("src/")}
    assert packages == TRAINING_CLOSURE, f"{name} depends on {sorted(packages ^ TRAINING_CLOSURE)} beyond the training closure"
    # So an edit to the baseline, an evaluation figure, a report or the predictor never reruns a fine-tune.
    assert "train" not in STAGES["evaluate@bert"]["params"] and "train" not in STAGES["predict"]["params"]


def test_the_training_closure_imports_no_other_package():
    closure = {file for folder in TRAINING_CLOSURE for file in (ROOT / folder).glob("*.py")}
    imported = {str(Path(file).parent.relative_to(ROOT)) for path in closure for file in project_imports(path)}
    assert imported <= TRAINING_CLOSURE


def stages_run_after(project: Path, path: Path, new_text: str) -> set[str]:
    """Write `new_text` to `path` in a copy of the project, `dvc repro`, return the stages that ran.

    `--no-run-cache`: every stage DVC finds changed runs, even where a copy sharing the cache ran the same inputs.
    """
    path.write_text(new_text)
    output = run(["dvc", "repro", "--no-run-cache"], project).stdout
    return set(re.findall(r"Running stage '([\w@-]+)'", output))


def test_second_repro_runs_nothing_and_metrics_line_up(reproduced_copy):
    assert "Running stage" not in run(["dvc", "repro"], reproduced_copy).stdout
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], reproduced_copy).stdout)
    files = next(iter(shown.values()))["data"]
    baseline, bert = files["metrics/baseline.json"]["data"], files["metrics/bert.json"]["data"]
    assert {"auc", "accuracy", "f1"} <= set(baseline) & set(bert)
    for model in ("baseline", "tutorial", "bert", "refit", "ensemble", "refit_ensemble", "refit_seeds"):
        assert set(files[f"metrics/external/{model}.json"]["data"]) == {"auc", "accuracy", "f1", "auc_se"}


def test_a_clone_without_data_shows_the_committed_headline_metrics_in_120_columns(tiny_project, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(tiny_project), str(clone)], tmp_path)
    assert not (clone / ".dvc" / "cache").exists() and not (clone / "models").exists(), "nothing but git"
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], clone).stdout)
    files = next(iter(shown.values()))["data"]
    committed = {str(path.relative_to(clone)): json.loads(path.read_text()) for path in (clone / "metrics").rglob("*.json")}
    assert {path: figures["data"] for path, figures in files.items()} == committed
    assert {"metrics/bert.json", "metrics/external/refit.json", "metrics/threshold.json",
            "metrics/engines/onnx-int8.json"} <= set(committed)
    table = run(["dvc", "metrics", "show"], clone).stdout.splitlines()
    assert len(table) == len(committed) + 1 and max(map(len, table)) <= 120, "\n".join(table)
    header = table[0].split()
    assert header[0] == "Path" and len(header) - 1 <= 15
    # Against the commit before (the project's own run, in git too): every headline figure, old and new.
    diff = json.loads(run(["dvc", "metrics", "diff", "HEAD~1", "--all", "--json"], clone).stdout)
    assert diff["metrics/bert.json"]["auc"]["new"] == committed["metrics/bert.json"]["auc"]


# The external figures reach both cards.
REPORTS = {"release", "report", "release_large"}
SEED_STAGES = {"seed@train-1", "seed@refit-1"}  # the tiny params: seed 1, both fits
# The released student learns from the default recipe and the teacher: what moves them moves it and its release.
STUDENT_STAGES = {"distill_targets", "student", "student_full", "evaluate@student", "compare", "threshold", "export",
                  "predict", "external"} | REPORTS
# The large release exports the default recipe and the teacher themselves.
BERT_STAGES = ({"train@bert", "refit", "seeds", "evaluate@bert", "ensemble", "bert_teacher", "analysis", "export_large"}
               | STUDENT_STAGES)


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        # The threshold goes into both serving folders: what reads them reruns.
        ("threshold", "target_count", 12, {"threshold", "export", "predict", "external", "export_large"} | REPORTS),
        ("train", "lr", 3.0e-5, BERT_STAGES | SEED_STAGES),
        # A new seed trains its two folders; the spread, the external seed ensemble and the card move.
        ("seeds", "seeds", [3], {"seed@train-3", "seed@refit-3", "seeds", "external", "release", "release_large"}),
        ("seeds", "fits", ["train"], {"seeds", "external", "release_large"}),
        # The release reads the tutorial's metrics, which move.
        ("tutorial", "lr", 3.0e-5, {"train@tutorial", "evaluate@tutorial", "compare", "external"} | REPORTS),
        ("ensemble", "method", "stack", {"ensemble", "compare", "external"} | REPORTS),
        ("baseline", "alpha", 1.5, {"baseline", "ensemble", "compare", "analysis", "external"} | REPORTS),
        # The teacher's recipe retrains the teacher and, through what it teaches, the student and the release.
        ("teacher_train", "lr", 5.0e-5, {"teacher", "evaluate@teacher", "bert_teacher", "export_large"} | STUDENT_STAGES),
        # The first look (docs/pipeline.md): a recipe without the teacher skips every stage of the teacher's.
        ("release", "recipe", "bert", {"teacher_tokenize", "teacher", "evaluate@teacher", "bert_teacher", "export_large"}
         | STUDENT_STAGES),
        # A distillation setting retrains the students alone, not what teaches them.
        ("distill", "temperature", 1.0, STUDENT_STAGES - {"distill_targets"}),
    ],
)
def test_a_params_change_reruns_exactly_the_stages_that_read_it(reproduced_copy, section, key, value, expected):
    params = yaml.safe_load((reproduced_copy / "params.yaml").read_text())
    params[section][key] = value
    assert stages_run_after(reproduced_copy, reproduced_copy / "params.yaml", yaml.safe_dump(params, sort_keys=False)) == expected


@pytest.mark.parametrize(
    "module, expected",
    [("labeling.py", {"predict", "threshold", "export", "external"}), ("threshold.py", {"threshold", "predict", "export_large"}),
     ("baseline.py", {"baseline", "external"}), ("download.py", {"download", "external_data"}),
     ("external_data.py", {"external_data"}), ("external_metrics.py", {"external"}),
     ("evaluation.py", {"baseline", "evaluate@bert", "evaluate@tutorial", "evaluate@teacher", "evaluate@student",
                       "ensemble", "bert_teacher", "distill_targets", "compare", "threshold", "export", "seeds",
                       "external", "export_large"})],
)
def test_editing_a_module_reruns_only_the_stages_importing_it(reproduced_copy, module, expected):
    path = reproduced_copy / "src" / "complaints" / module
    assert stages_run_after(reproduced_copy, path, path.read_text() + "\n# edited\n") == expected


def test_plots_render_every_chart_with_data(reproduced_copy, tmp_path):
    run(["dvc", "plots", "show", "--out", str(tmp_path / "plots")], reproduced_copy)
    html = (tmp_path / "plots" / "index.html").read_text()
    for title in ("ROC of every model", "CV AUC vs alpha", "Loss per epoch", "Dev AUC per epoch",
                  "Threshold sweep", "Confusion matrix, baseline", "Confusion matrix, BERT", "Calibration on validation",
                  "AUC per slice", "Most confident mistakes", "ROC of every model on the external set",
                  "Calibration on the external set", "External AUC per airline"):
        assert title in html
    for field in ('"fpr"', '"cv_auc"', '"train_loss"', '"dev_auc"', '"test_non_complaint_share"', '"predicted"',
                  '"observed"', '"slice"', '"non_complaint_probability"'):
        assert field in html


def exp_table(project: Path) -> list[dict]:
    """`dvc exp show` as rows of name -> value."""
    import csv
    import io

    return list(csv.DictReader(io.StringIO(run(["dvc", "exp", "show", "--csv"], project).stdout)))


def test_experiment_runs_in_a_temporary_copy_and_shows_both_aucs(reproduced_copy):
    # --temp runs where queued experiments run: a copy under .dvc/tmp; download reruns there (its params change).
    run(["dvc", "exp", "run", "--temp", "-n", "lr3", "-S", "train.lr=3.0e-5", "-S", "download.timeout_s=30.0"],
        reproduced_copy)
    rows = {row["Experiment"]: row for row in exp_table(reproduced_copy)}
    assert "lr3" in rows
    assert rows["lr3"]["metrics/bert.json:auc"] and rows["lr3"]["metrics/baseline.json:auc"]
    external_auc = [column for column in rows["lr3"] if column.endswith("external/refit.json:auc")]
    assert external_auc and rows["lr3"][external_auc[0]]
    assert rows["lr3"]["train.lr"] == "3e-05"


def test_queued_experiments_run_through_the_queue(reproduced_copy):
    import time

    run(["dvc", "exp", "run", "--queue", "-n", "thr7", "-S", "threshold.strategy=fixed", "-S",
         "threshold.fixed=0.7"], reproduced_copy)
    run(["dvc", "queue", "start", "-j", "1"], reproduced_copy)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], reproduced_copy).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(0.5)
    run(["dvc", "queue", "stop", "--kill"], reproduced_copy, check=False)
    assert "Success" in status, status
    rows = {row["Experiment"]: row for row in exp_table(reproduced_copy)}
    # `dvc exp show` names a metric by its key alone when no other metrics file has it.
    assert rows["thr7"]["threshold.fixed"] == "0.7" and rows["thr7"]["threshold"] == "0.7"


def test_teammate_pulls_and_reproduces_nothing(reproduced_copy, tmp_path):
    project = reproduced_copy
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--local", "-f", "-d", "team", str(remote)], project)
    # One extra run recorded only in the run-cache: the teammate will ask for the same params.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["threshold"].update(strategy="fixed", fixed=0.6)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], project)
    run(["python", "-m", "complaints.release.sharing"], project)
    run(["git", "checkout", "HEAD", "--", "."], project)
    run(["dvc", "checkout", "--force"], project)
    run(["dvc", "push"], project)

    teammate = tmp_path / "teammate"
    run(["git", "clone", "-q", str(project), str(teammate)], tmp_path)
    run(["dvc", "remote", "add", "--local", "-d", "team", str(remote)], teammate)
    run(["dvc", "pull", "--run-cache"], teammate)
    assert "Running stage" not in run(["dvc", "repro"], teammate).stdout
    for output in ("data/raw/test_data.csv", "data/tokens/train.safetensors", "models/bert/model.safetensors",
                   "models/bert_full/config.json", "predictions/test.csv", "metrics/bert.json"):
        assert (teammate / output).exists(), output
    assert "up to date" in run(["dvc", "status"], teammate).stdout

    # Params someone already ran: `--pull` fetches that run's outputs from the remote instead of running it.
    (teammate / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    again = run(["dvc", "repro", "--pull"], teammate).stdout
    assert "Stage 'threshold' is cached - skipping run" in again and "Running stage" not in again
    assert json.loads((teammate / "metrics" / "threshold.json").read_text())["threshold"] == 0.6


def test_the_report_compares_with_the_commit_the_run_started_from_through_dvcs_api(reproduced_copy):
    baseline_before = json.loads((reproduced_copy / "metrics" / "baseline.json").read_text())
    commit = run(["git", "rev-parse", "--short", "HEAD"], reproduced_copy).stdout.strip()
    params = yaml.safe_load((reproduced_copy / "params.yaml").read_text())
    params["baseline"]["alpha"] = 1.5
    (reproduced_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], reproduced_copy)
    report = (reproduced_copy / "reports" / "report.md").read_text()
    assert f"| model | metric | this run | {commit} | change |" in report
    row = next(line for line in report.splitlines() if line.startswith("| TF-IDF + NB baseline | auc |"))
    assert f"| {baseline_before['auc']:.4f} |" in row, "HEAD's baseline AUC, read from the cache by dvc.api"
