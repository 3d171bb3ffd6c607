"""Fault injection through the real stage code and the real `dvc`: bad input, kills, concurrent runs, determinism."""
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from complaints.core import stage
from complaints.text.tokens import write_arrays
from stages import split
from conftest import BIN, ROOT, commit_all, copy_reproduced, run


def header_and_rows(path: Path) -> tuple[list[str], str]:
    """The header's columns and the text of a CSV."""
    text = path.read_text(encoding="utf-8")
    return text.splitlines()[0].split(","), text


def row(columns: list[str], tweet_id: str, tweet: str) -> str:
    """A CSV line with `tweet_id` first, the tweet last, filler between."""
    return ",".join([tweet_id] + ["x"] * (len(columns) - 2) + [tweet]) + "\n"


CORRUPTIONS = {
    "renamed column": lambda columns, text: text.replace("tweet", "tweet_text", 1),
    "header only": lambda columns, text: text.splitlines(keepends=True)[0],
    "empty file": lambda columns, text: "",
    "ragged row": lambda columns, text: text + "999,short\n",
    "duplicate id": lambda columns, text: text + row(columns, text.splitlines()[1].split(",")[0], "again"),
    "empty tweet": lambda columns, text: text + row(columns, "998", '""'),
    "missing tweet": lambda columns, text: text + row(columns, "997", ""),
}


@pytest.mark.parametrize("name", ["complaint1700.csv", "noncomplaint1700.csv", "test_data.csv"])
@pytest.mark.parametrize("corruption", [*CORRUPTIONS, "not utf-8"])
def test_split_rejects_bad_input_with_one_message_and_no_output(raw_dir, tmp_path, caplog, name, corruption):
    path = raw_dir / name
    columns, text = header_and_rows(path)
    if corruption == "not utf-8":
        path.write_bytes(text.encode() + b"996,caf\xe9,x,x,\xff\n")
    else:
        path.write_text(CORRUPTIONS[corruption](columns, text), encoding="utf-8")
    out, duplicates = tmp_path / "split", tmp_path / "duplicates.json"
    # In-process through the entry points' own `stage.run`; the next test runs the module as DVC does.
    with pytest.raises(SystemExit) as stopped, caplog.at_level(logging.INFO):
        stage.run(split.main, ["--raw", str(raw_dir), "--out", str(out), "--duplicates", str(duplicates)])
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert stopped.value.code == 1 and len(errors) == 1 and str(path) in errors[0], errors
    assert not out.exists() and not duplicates.exists() and not list(tmp_path.glob(".split.*"))


def test_the_split_module_prints_one_error_line_and_no_traceback(raw_dir, tmp_path):
    path = raw_dir / "test_data.csv"
    path.write_text(CORRUPTIONS["ragged row"](*header_and_rows(path)), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "stages.split", "--raw", str(raw_dir), "--out", str(tmp_path / "split"),
         "--duplicates", str(tmp_path / "duplicates.json")], cwd=ROOT, capture_output=True, text=True,
    )
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert result.returncode == 1 and len(errors) == 1 and str(path) in errors[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "split").exists()


def test_unusual_but_valid_csv_passes_the_split_stage(raw_dir, tmp_path):
    path = raw_dir / "complaint1700.csv"
    text = path.read_text(encoding="utf-8") + '500,United,"a quoted tweet, with a comma\nand a newline"\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    subprocess.run([sys.executable, "-m", "stages.split", "--raw", str(raw_dir), "--out", str(tmp_path / "split"),
                    "--duplicates", str(tmp_path / "d.json")], cwd=ROOT, check=True, capture_output=True)
    import pandas as pd

    tables = pd.concat(pd.read_parquet(tmp_path / "split" / f"{s}.parquet") for s in ("train", "val"))
    assert "a quoted tweet, with a comma\r\nand a newline" in tables["text"].tolist() or \
        "a quoted tweet, with a comma\nand a newline" in tables["text"].tolist()


@pytest.mark.slow
def test_label_outside_0_1_is_rejected_by_training(tmp_path):
    tokens = tmp_path / "tokens"
    ids = np.arange(4)
    arrays = {"id": ids, "input_ids": np.full((4, 8), 101, dtype=np.int32),
              "attention_mask": np.ones((4, 8), dtype=np.int8), "labels": np.array([0, 1, 2, 0])}
    write_arrays(arrays, tokens / "train.safetensors")
    (tokens / "model.json").write_text(json.dumps({"name": "embedded"}))
    result = subprocess.run([sys.executable, "-m", "stages.train", "--tokens", str(tokens), "--fit", "train",
                             "--model", str(tmp_path / "model"), "--live", str(tmp_path / "live")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "train.safetensors: label 2 for id 2, expected 0 or 1" in result.stderr
    assert not (tmp_path / "model").exists()


LONG_TRAINING_EPOCHS = 8


@pytest.fixture(scope="module")
def long_training(tiny_project, tmp_path_factory):
    """A copy of the tiny project whose default recipe trains 8 epochs (seconds, so a kill or a second run lands
    mid-training), with `train@bert` reproduced and committed."""
    project = copy_reproduced(tiny_project, tmp_path_factory.mktemp("long"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["epochs"] = LONG_TRAINING_EPOCHS
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "--single-item", "train@bert"], project)
    commit_all(project, "long training")
    return project


def start(command: list[str], project: Path) -> subprocess.Popen:
    """Start a command in its own process group, with this virtualenv first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DVC_ROOT", None)
    return subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_until(condition, process: subprocess.Popen, timeout: float = 120) -> None:
    """Poll until `condition()` holds while `process` still runs, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "the stage never got under way"
        time.sleep(0.02)


def wait_for_training(project: Path, process: subprocess.Popen) -> None:
    """Block until DVC has removed the train stage's old outputs (it holds the lock) and training has begun."""
    wait_until(lambda: not (project / "models" / "bert").exists(), process)
    wait_until(lambda: (project / "dvclive" / "bert").exists(), process)


def epochs_logged(project: Path) -> int:
    """How many epochs the running train stage has logged to dvclive so far."""
    losses = project / "dvclive" / "bert" / "plots" / "metrics" / "train_loss.tsv"
    return max(0, len(losses.read_text().splitlines()) - 1) if losses.exists() else 0


@pytest.mark.xdist_group("long_training")
def test_killed_training_leaves_nothing_behind_and_a_rerun_is_identical(long_training):
    project = long_training
    lock = (project / "dvc.lock").read_bytes()
    seed = random.randrange(1 << 30)
    kill_after = random.Random(seed).randint(1, LONG_TRAINING_EPOCHS // 2)
    process = start(["dvc", "repro", "--force", "--single-item", "train@bert"], project)
    wait_for_training(project, process)
    wait_until(lambda: epochs_logged(project) >= kill_after, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (project / "dvc.lock").read_bytes() == lock, f"kill seed {seed}"
    assert not (project / "models" / "bert").exists(), "a killed run left a model"

    # Completes (the killed run's stale lock is no obstacle), restoring from the cache.
    assert "Running stage" not in run(["dvc", "repro", "--single-item", "train@bert"], project).stdout
    assert (project / "dvc.lock").read_bytes() == lock and (project / "models" / "bert" / "model.safetensors").exists()
    retrained = run(["dvc", "repro", "--force", "--single-item", "train@bert"], project).stdout
    assert "Running stage 'train@bert'" in retrained
    assert (project / "dvc.lock").read_bytes() == lock, "a retrained model differs from the uninterrupted run's"
    assert not [p.name for p in (project / "models").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.xdist_group("long_training")
def test_a_second_repro_fails_fast_on_dvcs_lock_and_corrupts_nothing(long_training):
    project = long_training
    lock = (project / "dvc.lock").read_bytes()
    process = start(["dvc", "repro", "--force", "--single-item", "train@bert"], project)
    wait_for_training(project, process)
    started = time.monotonic()
    second = run(["dvc", "repro"], project, check=False)
    elapsed = time.monotonic() - started
    assert process.wait(timeout=300) == 0, process.stdout.read().decode()
    assert second.returncode != 0 and "lock" in (second.stdout + second.stderr).lower() and elapsed < 30
    assert (project / "dvc.lock").read_bytes() == lock
    assert "up to date" in run(["dvc", "status", "train@bert"], project).stdout


def without_report(lock: bytes) -> dict:
    """dvc.lock's stages but `report`, which compares with the commit the run started from, so depends on it."""
    return {name: stage for name, stage in yaml.safe_load(lock)["stages"].items() if name != "report"}


def test_two_clean_runs_at_two_paths_give_identical_lock_hashes(tiny_project, distilled_project):
    # Two fresh copies, each with its own cache (no run-cache shared), reproduced by `dvc repro` from nothing.
    assert tiny_project.parent != distilled_project.parent
    assert without_report((distilled_project / "dvc.lock").read_bytes()) == \
        without_report((tiny_project / "dvc.lock").read_bytes())


def test_outputs_deleted_by_hand_come_back_without_retraining(reproduced_copy):
    project = reproduced_copy
    shutil.rmtree(project / "models" / "bert")
    (project / "predictions" / "test.csv").unlink()
    output = run(["dvc", "repro"], project).stdout
    assert "Running stage" not in output
    assert (project / "models" / "bert" / "model.safetensors").exists() and (project / "predictions" / "test.csv").exists()
    shutil.rmtree(project / "models" / "bert_full")
    run(["dvc", "checkout", "--allow-missing"], project)
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], project).stdout


def test_a_corrupted_cache_file_is_detected_and_repaired(tiny_project, tmp_path):
    project = copy_reproduced(tiny_project, tmp_path / "copy", own_cache=True)
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    entry = next(out for out in lock["stages"]["predict"]["outs"] if out["path"] == "predictions/test.csv")
    cached = project / ".dvc" / "cache" / "files" / "md5" / entry["md5"][:2] / entry["md5"][2:]
    cached.chmod(0o644)
    cached.write_text("id,text,probability,label\n1,tampered,0.99,1\n")
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--local", "-f", "-d", "check", str(remote)], project)
    # `dvc push` re-hashes every object it sends: the corrupted one is named, dropped and never uploaded.
    pushed = run(["dvc", "push"], project)
    assert entry["md5"] in pushed.stderr + pushed.stdout
    assert not cached.exists() and not list(remote.rglob(entry["md5"][2:]))
    assert "not in cache" in run(["dvc", "status", "dvc.yaml"], project).stdout
    # The intact workspace file puts the right bytes back.
    run(["dvc", "commit", "--force", "predict"], project)
    assert cached.read_bytes() == (project / "predictions" / "test.csv").read_bytes()
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], project).stdout


def corrupt_input(case: str, workdir: Path, folder: Path) -> tuple[list[str], str]:
    """A damaged copy of one input and the stage command that reads it: (arguments, the file the error must name)."""
    if case == "truncated token file":
        shutil.copytree(workdir / "data" / "tokens" / "model", folder / "tokens")
        damaged = folder / "tokens" / "train.safetensors"
        damaged.write_bytes(damaged.read_bytes()[:200])
        return ["stages.train", "--tokens", str(folder / "tokens"), "--fit", "train", "--model",
                str(folder / "model"), "--live", str(folder / "live")], str(damaged)
    if case == "garbage parquet":
        shutil.copytree(workdir / "data" / "split", folder / "split")
        damaged = folder / "split" / "test.parquet"
        damaged.write_bytes(b"PAR1 not really a parquet file")
        return ["stages.predict", "--split", str(folder / "split"), "--model", str(workdir / "models" / "serving"),
                "--scores", str(folder / "model"), "--out", str(folder / "model.csv"),
                "--review", str(folder / "model_review.csv")], str(damaged)
    if case == "training.json without chosen_epoch":
        damaged = folder / "training.json"
        record = json.loads((workdir / "models" / "bert" / "training.json").read_text())
        damaged.write_text(json.dumps({key: value for key, value in record.items() if key != "chosen_epoch"}))
        return ["stages.train", "--tokens", str(workdir / "data" / "tokens" / "model"), "--fit", "refit", "--epochs-from",
                str(damaged), "--model", str(folder / "model"), "--live", str(folder / "live")], str(damaged)
    if case == "external tweets of one class":
        damaged = folder / "tweets.parquet"
        tweets = pd.read_parquet(workdir / "data" / "external" / "tweets.parquet")
        tweets[tweets["label"] == 0].to_parquet(damaged, index=False)
        return ["stages.external", "--tweets", str(damaged), "--scores", str(workdir / "scores" / "external"),
                "--groups", "fits", "refits", "--baseline", str(workdir / "models" / "baseline.joblib"),
                "--serving", str(workdir / "models" / "serving"), "--metrics", str(folder / "model"),
                "--report", str(folder / "model.json"), "--plots", str(folder / "plots")], str(damaged)
    for name in ("bert", "ensemble", "baseline", "tutorial"):
        (folder / "plots" / name).mkdir(parents=True)
        (folder / "plots" / name / "val_probabilities.csv").write_text('"id","label","non_complaint_probability"\n1,0,0.2\n2,0,0.7\n')
    return ["stages.compare", "--candidates", "bert", "ensemble", "--references", "baseline", "tutorial",
            "--plots", str(folder / "plots"), "--report", str(folder / "model")], "baseline/val_probabilities.csv"


@pytest.mark.parametrize("case", ["truncated token file", "garbage parquet", "training.json without chosen_epoch",
                                  "validation labels of one class", "external tweets of one class"])
def test_a_damaged_input_stops_its_stage_with_one_line(workdir, tiny_params_file, tmp_path, case):
    arguments, named = corrupt_input(case, workdir, tmp_path)
    result = subprocess.run([sys.executable, "-m", *arguments, "--params", str(tiny_params_file)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert result.returncode == 1 and len(errors) == 1 and named in errors[0], result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.glob("model*"))
