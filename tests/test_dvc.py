"""dvc.yaml against the code: deps are exactly the imported modules, params keys exist, reruns are exact."""
import ast
import itertools
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, run

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


def resolved_stages() -> dict[str, dict]:
    """Every stage of dvc.yaml and distill/dvc.yaml as DVC itself resolves them (foreach, matrix and `${}` filled
    in): the command, the deps (paths from the project root) and the params keys."""
    from dvc.repo import Repo

    stages = {}
    with Repo(str(ROOT)) as repo:
        for stage in repo.index.stages:
            params = [key for dep in stage.deps if hasattr(dep, "params") for key in (dep.params or [])]
            paths = [str(Path(dep.fs_path).relative_to(ROOT)) for dep in stage.deps if not hasattr(dep, "params")]
            stages[stage.addressing] = {"cmd": stage.cmd, "deps": paths, "params": params}
    return stages


STAGES = resolved_stages()


def test_every_stage_runs_a_stage_script_from_the_project_root():
    assert all(re.match(r"python -m stages\.\w+ ", stage["cmd"]) for stage in STAGES.values())
    assert len(STAGES) == len(set(STAGES)) and "train@bert" in STAGES and "distill/dvc.yaml:train@teacher" in STAGES


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_deps_are_exactly_its_script_and_imported_packages(name):
    stage = STAGES[name]
    script = ROOT / (re.search(r"python -m (stages\.\w+)", stage["cmd"]).group(1).replace(".", "/") + ".py")
    code_deps = {dep for dep in stage["deps"] if dep.endswith(".py") or dep.startswith("src/")}
    assert code_deps == {str(script.relative_to(ROOT))} | imported_packages(script)


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_params_exist(name):
    for key in STAGES[name]["params"]:
        node = PARAMS
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"stage {name}: params key {key} not in params.yaml"
            node = node[part]


FINE_TUNING_STAGES = tuple(name for name, stage in STAGES.items() if "python -m stages.train " in stage["cmd"])
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


def test_the_quick_path_ran_no_stage_of_the_teachers_chain(tiny_project):
    lock = yaml.safe_load((tiny_project / "dvc.lock").read_text())["stages"]
    assert not (tiny_project / "distill" / "dvc.lock").exists() and not (tiny_project / "models" / "teacher").exists()
    assert {"train@bert", "refit@bert_full", "external", "release"} <= set(lock)
    assert not any("teacher" in name or "student" in name for name in lock)


def test_a_new_variant_is_one_params_entry_trained_scored_and_summarised(reproduced_copy, tmp_path):
    params = yaml.safe_load((reproduced_copy / "params.yaml").read_text())
    params["models"]["fits"]["bert_cls"] = {"encoder": "model", "recipe": "tutorial"}
    ran = stages_run_after(reproduced_copy, reproduced_copy / "params.yaml", yaml.safe_dump(params, sort_keys=False))
    assert ran == {"train@bert_cls", "evaluate@bert_cls", "score_external@bert_cls", "external"}
    validation = json.loads((reproduced_copy / "metrics" / "bert_cls.json").read_text())
    external = json.loads((reproduced_copy / "metrics" / "external" / "bert_cls.json").read_text())
    summary = run(["complaints", "summary"], reproduced_copy).stdout.splitlines()
    row = next(line for line in summary if line.startswith("bert_cls "))
    assert f"{validation['auc']:.4f}" in row and f"{external['auc']:.4f}" in row


def test_second_repro_runs_nothing_and_metrics_line_up(reproduced_copy):
    assert "Running stage" not in run(["dvc", "repro"], reproduced_copy).stdout
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], reproduced_copy).stdout)
    files = next(iter(shown.values()))["data"]
    baseline, bert = files["metrics/baseline.json"]["data"], files["metrics/bert.json"]["data"]
    assert {"auc", "accuracy", "f1"} <= set(baseline) & set(bert)
    for model in ("baseline", "tutorial", "bert", "bert_full", "ensemble", "refit_ensemble", "refit_seeds"):
        assert set(files[f"metrics/external/{model}.json"]["data"]) == {"auc", "accuracy", "f1", "auc_se"}


def distill_metrics(project: Path) -> set[str]:
    """The metrics files and folders the teacher's chain (distill/dvc.yaml) declares."""
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        return {str(Path(out.fs_path).relative_to(project)) for stage in repo.index.stages
                if Path(stage.path).relative_to(project) == Path("distill/dvc.yaml") for out in stage.outs if out.metric}


def test_a_clone_without_data_shows_the_committed_headline_metrics_in_120_columns(tiny_project, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(tiny_project), str(clone)], tmp_path)
    assert not (clone / ".dvc" / "cache").exists() and not (clone / "models").exists(), "nothing but git"
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], clone).stdout)
    files = next(iter(shown.values()))["data"]
    committed = {str(path.relative_to(clone)): json.loads(path.read_text()) for path in (clone / "metrics").rglob("*.json")}
    # The quick path never ran the teacher's chain: its metrics are the only ones DVC cannot load.
    unloaded = {path for path, figures in files.items() if "error" in figures}
    assert unloaded == {path for path in distill_metrics(clone)} and "metrics/external_distill" in unloaded
    assert {path: figures["data"] for path, figures in files.items() if path not in unloaded} == committed
    assert {"metrics/bert.json", "metrics/external/bert_full.json", "metrics/threshold.json",
            "metrics/engines/onnx-int8.json"} <= set(committed)
    table = [line for line in run(["dvc", "metrics", "show"], clone).stdout.splitlines()
             if not line.startswith(("DVC failed", *(f"{path} " for path in unloaded)))]
    assert len(table) == len(committed) + 1 and max(map(len, table)) <= 120, "\n".join(table)
    header = table[0].split()
    assert header[0] == "Path" and len(header) - 1 <= 15
    # Against the commit before (the project's own run, in git too): every headline figure, old and new.
    diff = json.loads(run(["dvc", "metrics", "diff", "HEAD~1", "--all", "--json"], clone).stdout)
    assert diff["metrics/bert.json"]["auc"]["new"] == committed["metrics/bert.json"]["auc"]


# What reads the reports and metrics of every model: the card and the one-page report.
REPORTS = {"release", "report"}
SEED_STAGES = {"seed@train-1", "seed@refit-1"}  # the tiny params: seed 1, both fits


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("threshold", "target_count", 12, {"threshold", "export", "predict", "external"} | REPORTS),
        # A new seed trains its two folders; the spread, the external seed ensemble and the card move.
        ("seeds", "seeds", [3], {"seed@train-3", "seed@refit-3", "seeds", "external", "release"}),
        ("seeds", "fits", ["train"], {"seeds", "external"}),
        ("baseline", "alpha", 1.5, {"baseline", "ensemble", "compare", "analysis", "external"} | REPORTS),
        # The quick path has no teacher stage: the teacher's and the students' settings rerun nothing.
        ("teacher_train", "lr", 5.0e-5, set()),
        ("distill", "temperature", 1.0, set()),
    ],
)
def test_a_params_change_reruns_exactly_the_stages_that_read_it(reproduced_copy, section, key, value, expected):
    params = yaml.safe_load((reproduced_copy / "params.yaml").read_text())
    params[section][key] = value
    assert stages_run_after(reproduced_copy, reproduced_copy / "params.yaml", yaml.safe_dump(params, sort_keys=False)) == expected


# A recipe feeds every stage downstream of its models: rerunning them all takes minutes, so these cases check what DVC
# finds changed (the stages that read the recipe; what follows from their new outputs is the cases above).
@pytest.mark.parametrize(
    "section, expected",
    [("train", {"train@bert", "refit@bert_full"} | SEED_STAGES), ("tutorial", {"train@tutorial"})],
)
def test_a_recipes_change_marks_exactly_the_models_trained_on_it(reproduced_copy, section, expected):
    params = yaml.safe_load((reproduced_copy / "params.yaml").read_text())
    params[section]["lr"] = 3.0e-5
    (reproduced_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = json.loads(run(["dvc", "status", "--json", "dvc.yaml"], reproduced_copy).stdout)
    assert set(changed) == expected, changed


# Three packages, cheap to rerun; the deps test above checks every stage's packages against its imports.
@pytest.mark.parametrize("module", ["baseline/tfidf.py", "data/external_data.py", "release/card.py"])
def test_editing_a_module_reruns_only_the_stages_importing_its_package(reproduced_copy, module):
    package = f"src/complaints/{module.split('/')[0]}"
    expected = {name for name, stage in STAGES.items() if package in stage["deps"] and ":" not in name}
    path = reproduced_copy / "src" / "complaints" / module
    ran = stages_run_after(reproduced_copy, path, path.read_text() + "\n# edited\n")
    assert ran == expected
    assert not ran & (set(FINE_TUNING_STAGES) | SEED_STAGES), "an edit outside the training closure reruns no fine-tune"


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
    # --temp runs where queued experiments run: a copy under .dvc/tmp; download reruns there (its params change) and
    # finds the mirror from the main checkout; predict reruns for its review sample.
    run(["dvc", "exp", "run", "--temp", "-n", "review3", "-S", "threshold.review_size=3", "-S",
         "download.timeout_s=30.0"], reproduced_copy)
    rows = {row["Experiment"]: row for row in exp_table(reproduced_copy)}
    assert "review3" in rows
    assert rows["review3"]["metrics/bert.json:auc"] and rows["review3"]["metrics/baseline.json:auc"]
    external_auc = [column for column in rows["review3"] if column.endswith("external/bert_full.json:auc")]
    assert external_auc and rows["review3"][external_auc[0]]
    assert rows["review3"]["threshold.review_size"] == "3" and rows["review3"]["download.timeout_s"] == "30.0"


def test_queued_experiments_run_through_the_queue(reproduced_copy):
    import time

    # A switch that reruns one cheap stage (predict's review sample): the claim is about the queue, not the stages.
    run(["dvc", "exp", "run", "--queue", "-n", "review4", "-S", "threshold.review_size=4"], reproduced_copy)
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
    assert rows["review4"]["threshold.review_size"] == "4" and rows["review4"]["metrics/bert.json:auc"]


def test_teammate_pulls_and_reproduces_nothing(reproduced_copy, tmp_path):
    project = reproduced_copy
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--local", "-f", "-d", "team", str(remote)], project)
    # One extra run recorded only in the run-cache: the teammate will ask for the same params.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["threshold"]["review_size"] = 4  # reruns the predict stage alone
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], project)
    run(["python", "-m", "complaints.release.sharing"], project)
    run(["git", "checkout", "HEAD", "--", "."], project)
    run(["dvc", "checkout", "--force", "--allow-missing"], project)
    run(["dvc", "push"], project)

    teammate = tmp_path / "teammate"
    run(["git", "clone", "-q", str(project), str(teammate)], tmp_path)
    run(["dvc", "remote", "add", "--local", "-d", "team", str(remote)], teammate)
    run(["dvc", "pull", "--run-cache", "--allow-missing"], teammate)
    assert "Running stage" not in run(["dvc", "repro"], teammate).stdout
    for output in ("data/raw/test_data.csv", "data/tokens/model/train.safetensors", "models/bert/model.safetensors",
                   "models/bert_full/config.json", "predictions/test.csv", "metrics/bert.json"):
        assert (teammate / output).exists(), output
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], teammate).stdout

    # Params someone already ran: `--pull` fetches that run's outputs from the remote instead of running it.
    (teammate / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    again = run(["dvc", "repro", "--pull"], teammate).stdout
    assert "Stage 'predict' is cached - skipping run" in again and "Running stage" not in again
    assert len(pd.read_csv(teammate / "predictions" / "review_sample.csv")) == 4


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
