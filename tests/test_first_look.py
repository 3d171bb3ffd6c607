"""The first look without the teacher: `release.recipe: bert` skips the teacher's stages (complaints.core.skipping), serves
the default recipe's refit, and flipping back restores the distilled pipeline from the run-cache."""
import json

import pytest
import yaml

from complaints.core.config import ParamsError
from complaints.serving.modelfolder import ModelNotFound, check_model_folder
from complaints.core.skipping import ReleaseParams, skipped_reason, skipped_upstream, write_skipped
from conftest import run

REASON = "release.recipe is bert, which needs no teacher"
# The teacher's stages and every output they write (dvc.yaml): in the first look each holds the skipped record.
SKIPPED_OUTPUTS = ("data/teacher_tokens", "reports/teacher_tokens.json", "models/teacher", "dvclive/teacher",
                   "data/distill_targets.csv", "reports/distill_targets.json", "models/student", "dvclive/student",
                   "models/student_full", "dvclive/student_full", "plots/teacher", "reports/teacher.json",
                   "metrics/teacher.json", "plots/student", "reports/student.json", "metrics/student.json",
                   "plots/bert_teacher", "reports/bert_teacher.json", "metrics/bert_teacher.json", "models/serving_large",
                   "reports/export_large.json", "models/release_large")


def test_each_kind_of_output_keeps_the_reason_it_was_skipped(tmp_path):
    outputs = [tmp_path / "models" / "teacher", tmp_path / "reports" / "teacher.json", tmp_path / "targets.csv"]
    write_skipped(REASON, outputs)
    assert [skipped_reason(path) for path in outputs] == [REASON] * 3
    assert skipped_reason(tmp_path / "models" / "teacher" / "val_probabilities.csv") == REASON, "a file inside one"
    assert (tmp_path / "targets.csv").read_text().splitlines() == ["skipped", REASON]


def test_outputs_that_ran_are_not_skipped(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "report.json").write_text(json.dumps({"skipped": 3, "auc": 0.9}))
    (tmp_path / "scores.csv").write_text('"id","skipped"\n1,0\n')
    for path in ("model", "report.json", "scores.csv", "model/missing.csv", "missing/file.csv"):
        assert skipped_reason(tmp_path / path) is None, path


def test_a_skipped_input_skips_the_stage_with_the_same_reason(tmp_path):
    write_skipped(REASON, [tmp_path / "teacher"])
    (tmp_path / "bert").mkdir()
    assert not skipped_upstream([tmp_path / "bert"], [tmp_path / "unwritten.json"])
    assert not (tmp_path / "unwritten.json").exists()
    assert skipped_upstream([tmp_path / "bert", tmp_path / "teacher"], [tmp_path / "out", tmp_path / "out.json"])
    assert skipped_reason(tmp_path / "out") == skipped_reason(tmp_path / "out.json") == REASON


def test_only_the_students_recipe_needs_the_teacher():
    assert ReleaseParams("student").teacher_skipped_reason() is None
    assert ReleaseParams("bert").teacher_skipped_reason() == REASON
    with pytest.raises(ParamsError, match="release.recipe.*'teacher'.*one of bert, student"):
        ReleaseParams("teacher")


def test_a_skipped_model_folder_says_why_it_holds_no_model(tmp_path):
    write_skipped(REASON, [tmp_path / "teacher"])
    with pytest.raises(ModelNotFound, match=f"teacher: holds no model, the pipeline skipped it \\({REASON}\\)"):
        check_model_folder(tmp_path / "teacher")


def test_the_first_look_skips_the_teacher_serves_the_refit_and_flips_back_from_the_run_cache(reproduced_copy):
    project = reproduced_copy
    distilled = (project / "params.yaml").read_text()
    params = yaml.safe_load(distilled)
    params["release"]["recipe"] = "bert"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = run(["dvc", "repro"], project).stdout
    # A test sharing this cache may have put the skipped teacher in the run-cache first: restored or run, it skips.
    assert "Running stage 'teacher'" in output or "Stage 'teacher' is cached" in output
    assert "Running stage 'train@bert'" not in output
    for path in SKIPPED_OUTPUTS:
        assert skipped_reason(project / path) == REASON, path
    assert "up to date" in run(["dvc", "status"], project).stdout

    # The default recipe's refit is served and released; the scores leave the skipped models out.
    training = json.loads((project / "models" / "release" / "training.json").read_text())
    assert training == json.loads((project / "models" / "bert_full" / "training.json").read_text())
    external = json.loads((project / "reports" / "external.json").read_text())
    assert {"refit", "serving", "bert"} <= set(external) and not {"teacher", "student", "bert_teacher"} & set(external)
    assert "teacher_weight" not in external and not any("student" in key for key in external["compare"])
    assert not (project / "metrics" / "external" / "teacher.json").exists()
    assert not any("student" in key for key in json.loads((project / "reports" / "compare.json").read_text()))
    summary = run(["complaints", "summary"], project).stdout
    assert any(line.startswith("student (distilled MiniLM)") and line.split()[-4:] == ["-"] * 4
               for line in summary.splitlines()), summary

    # Back to the distilled recipe: every stage's earlier run is in the run-cache, so nothing trains.
    (project / "params.yaml").write_text(distilled)
    again = run(["dvc", "repro"], project).stdout
    assert "Running stage" not in again and "Stage 'teacher' is cached" in again
    assert skipped_reason(project / "models" / "teacher") is None
    assert (project / "models" / "release_large" / "README.md").is_file()
