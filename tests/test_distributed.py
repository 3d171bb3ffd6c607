"""The real training stage under `accelerate launch` with two CPU processes (gloo), as it runs on several GPUs.

accelerate's `--cpu` flag starts a single process unless MPI is set up; `--multi_gpu` starts the processes with
torchrun, and on a machine without CUDA the stage's Accelerator trains them together on the CPU over gloo.
"""
import json
import os
import subprocess

import pandas as pd
import yaml

from conftest import BIN, ROOT
from test_serving import free_port


def launch_two_processes(params_file, tokens, model, live) -> str:
    """The real train stage under `accelerate launch` with two CPU processes; returns its log (it must succeed)."""
    command = [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               "-m", "stages.train", "--params", str(params_file), "--section", "train",
               "--tokens", str(tokens), "--fit", "train", "--model", str(model), "--live", str(live)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return log


def test_two_processes_train_one_model_with_one_agreed_history(workdir, tiny_params_file, tmp_path):
    model, live = tmp_path / "models" / "bert", tmp_path / "live"
    log = launch_two_processes(tiny_params_file, workdir / "data" / "tokens" / "model", model, live)
    # Each process takes half of the 8 batches, and both log the same start; the main one checks the history.
    assert log.count("8 batches") == 0 and log.count("4 batches of 8 per epoch and process, 2 processes") == 2, log
    assert "epoch 1: history agrees across 2 processes" in log

    training = json.loads((model / "training.json").read_text())
    single = json.loads((workdir / "models" / "bert" / "training.json").read_text())
    assert training["processes"] == 2 and single["processes"] == 1
    assert len(training["history"]) == len(single["history"]) == 1
    assert set(training["history"][0]) == set(single["history"][0])
    assert (model / "model.safetensors").is_file() and (model / "dev_probabilities.csv").is_file()
    # One writer: one model folder, one dvclive folder, no temporary folders left by a second process.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["live", "models"]
    assert [path.name for path in (tmp_path / "models").iterdir()] == ["bert"]
    dev_auc = (live / "plots" / "metrics" / "dev_auc.tsv").read_text().splitlines()
    assert len(dev_auc) == 2


def test_two_processes_self_train_on_the_same_pseudo_labels(workdir, tiny_params_file, tmp_path):
    params = yaml.safe_load(tiny_params_file.read_text())
    params["train"].update(self_training=True, pseudo_confidence=0.5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    log = launch_two_processes(tmp_path / "params.yaml", workdir / "data" / "tokens" / "model", tmp_path / "bert", tmp_path / "live")
    # Teacher and student each log their start on both processes; the student trains on more tweets.
    assert log.count("per epoch and process, 2 processes") == 4 and "epoch 1: history agrees across 2 processes" in log
    training = json.loads((tmp_path / "bert" / "training.json").read_text())
    test_tweets = len(pd.read_parquet(workdir / "data" / "split" / "test.parquet"))
    assert training["self_training"]["pseudo_labeled"] == test_tweets and training["processes"] == 2
