from dataclasses import dataclass

import pytest

from complaints.baseline.tfidf import BaselineParams
from complaints.core.config import ParamsError, from_mapping, load_section
from complaints.data.tweets import SplitParams
from complaints.data.download import DownloadParams
from conftest import ROOT


@dataclass(frozen=True)
class Example:
    lr: float
    epochs: int = 2
    name: str = "x"
    pinned: float | None = None
    flag: bool = False


def test_project_params_load():
    for section, cls in [("download", DownloadParams), ("split", SplitParams), ("baseline", BaselineParams)]:
        load_section(ROOT / "params.yaml", section, cls)


def test_quoted_number_is_rejected_with_a_hint():
    with pytest.raises(ParamsError, match=r"'train\.lr'.*'5e-5'.*5\.0e-5"):
        from_mapping(Example, "train", {"lr": "5e-5"})


def test_exponent_without_dot_reads_as_a_float(tmp_path):
    # PyYAML's YAML 1.1 reads 5e-5 and DVC's `-S train.lr=3e-05` as strings; YAML 1.2 and DVC read floats.
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  lr: 5e-5\n  epochs: 3\n  name: '1e3'\n")
    loaded = load_section(path, "train", Example)
    assert loaded.lr == 5e-5 and loaded.epochs == 3 and loaded.name == "1e3"


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"lr": 1e-3, "epoch": 3}, r"unknown key\(s\) epoch"),
        ({}, r"'train\.lr' is missing"),
        ({"lr": 1e-3, "epochs": 2.5}, r"'train\.epochs': got 2\.5, expected an integer"),
        ({"lr": 1e-3, "epochs": True}, r"'train\.epochs': got True, expected an integer"),
        ({"lr": 1e-3, "flag": "yes"}, r"'train\.flag': got 'yes', expected true or false"),
        ({"lr": 1e-3, "name": ""}, r"'train\.name'"),
    ],
)
def test_bad_values_name_the_key(mapping, message):
    with pytest.raises(ParamsError, match=message):
        from_mapping(Example, "train", mapping)


def test_optional_and_int_as_float():
    loaded = from_mapping(Example, "train", {"lr": 1, "pinned": None})
    assert loaded.lr == 1.0 and isinstance(loaded.lr, float) and loaded.pinned is None


def test_range_checks_name_the_key():
    with pytest.raises(ParamsError, match=r"split\.test_size"):
        SplitParams(test_size=1.5)
    with pytest.raises(ParamsError, match=r"baseline\.alpha"):
        BaselineParams(alpha=-1.0)


def test_alpha_grid_is_exact():
    grid = BaselineParams().alpha_grid()
    assert len(grid) == 90 and grid[0] == 1.0 and grid[-1] == 9.9 and 1.8 in grid


def test_a_recipe_read_from_another_section_names_that_section():
    from complaints.modeling.training import TrainParams

    with pytest.raises(ParamsError, match=r"params key 'tutorial\.lr': got 0\.0, expected a positive number"):
        from_mapping(TrainParams, "tutorial", {"lr": 0.0})
    with pytest.raises(ParamsError, match=r"params key 'train\.best_epoch'"):
        from_mapping(TrainParams, "train", {"best_epoch": True, "dev_size": 0.0})


def test_runtime_threads_pin_the_threads_a_computing_stage_uses_and_are_checked(tmp_path, monkeypatch):
    from complaints.core.machine import THREADS_VARIABLE, available_cpus, pin_threads

    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    params = tmp_path / "params.yaml"
    params.write_text("runtime:\n  threads: 3\n")
    pin_threads(params)
    assert available_cpus() == 3
    params.write_text("runtime:\n  threads: 0\n")
    with pytest.raises(ParamsError, match="runtime.threads"):
        pin_threads(params)


def test_a_stage_process_runs_atens_avx2_kernels_at_most():
    import os
    import platform
    import subprocess
    import sys

    probe = "import stages, torch; print(torch.backends.cpu.get_cpu_capability())"
    environment = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
    shown = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True)
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert shown.stdout.strip() in ("AVX2", "DEFAULT")
