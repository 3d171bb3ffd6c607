"""Shared fixtures: the project root, the data mirror, tiny CSVs, a tiny random encoder, and the expensive fixtures
(a project reproduced by `dvc repro`, and a second one that also ran the teacher's chain) built once per test session
and shared.

The tiny encoder (a randomly initialised 2-layer BERT, hidden 32, with the embedded model's own tokenizer) stands in
for all-MiniLM-L6-v2 wherever a claim is about DVC, files, processes or HTTP rather than the pretrained weights;
`real_workdir` keeps the embedded model for the claims that are about it. Under pytest-xdist each session fixture is
built by one worker while the others wait on a file lock, then read by all of them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from complaints.core.decision import LABEL_WORDS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MIRROR = SHARED / "data" / "airline-complaints"
EXTERNAL_MIRROR = SHARED / "data" / "airline-sentiment-external"
BIN = Path(sys.executable).parent


def run(command: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with this virtualenv first on PATH, as `make` does."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DVC_ROOT", None)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def copy_project(destination: Path) -> Path:
    """Copy the project's tracked and untracked-but-not-ignored files, but the real run's lock files and metrics, into a
    fresh git repo beside `shared/`."""
    files = run(["git", "ls-files", "-co", "--exclude-standard"], ROOT).stdout.split()
    project = destination / "project"
    for name in files:
        # The real run's records (its lock files and metrics): a copy starts as a new project, with none.
        if Path(name).name == "dvc.lock" or name.startswith("metrics/"):
            continue
        if (ROOT / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    (destination / "shared").symlink_to(SHARED)
    run(["git", "init", "-q"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init"], project)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy"], project)
    return project


def pytest_configure(config) -> None:
    """Under pytest-xdist, pin each worker (and every process it starts) to a core of its own, so the workers' torch
    and ONNX Runtime thread pools (sized by the affinity) never fight over the same cores."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if worker and len(cores) > 1:
        os.sched_setaffinity(0, {cores[int(worker.removeprefix("gw")) % len(cores)]})


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `name`, filled by `build` once per test session, also across pytest-xdist workers."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    with FileLock(f"{folder}.lock"):
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


TINY_ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                "max_position_embeddings": 512}


def build_tiny(folder: Path, architecture: str, seed: int) -> None:
    """A seeded, randomly initialised encoder of `architecture` (bert, mpnet) and TINY_ENCODER's size, with the embedded
    model's tokenizer and vocabulary."""
    import torch
    from transformers import AutoConfig, AutoModel

    from complaints.text.pretrained import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model("embedded"))
    torch.manual_seed(seed)
    config = AutoConfig.for_model(architecture, vocab_size=len(tokenizer), **TINY_ENCODER)
    AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """The tiny encoder's folder, a valid `model.name`."""
    return built_once(tmp_path_factory, "tiny-encoder", lambda folder: build_tiny(folder, "bert", seed=0))


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory) -> Path:
    """The tiny teacher's folder (MPNet, the teacher's architecture), a valid `teacher.name`."""
    return built_once(tmp_path_factory, "tiny-teacher", lambda folder: build_tiny(folder, "mpnet", seed=1))


def build_tiny_model(folder: Path, encoder: Path) -> None:
    """An untrained classifier (mean pooling, MAX_LEN 16) on the tiny encoder, saved as the train stage saves one."""
    from complaints.modeling.model import pretrained_classifier, save_classifier
    from complaints.text.pretrained import load_tokenizer
    from complaints.core.runtime import configure_torch

    configure_torch(0)
    model = pretrained_classifier(str(encoder), head_hidden=50, freeze_encoder=False, pooling="mean", max_length=16,
                                 label_words=LABEL_WORDS)
    save_classifier(model, load_tokenizer(str(encoder)), folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_encoder) -> Path:
    """A model folder (PyTorch weights, no ONNX files) on the tiny encoder, built in a second without training."""
    return built_once(tmp_path_factory, "tiny-model", lambda folder: build_tiny_model(folder, tiny_encoder))


# A test needing one of these runs stage mains, `dvc` or servers: the `slow` tier (`make test-fast` leaves it out).
SLOW_FIXTURES = {"workdir", "real_workdir", "tiny_project", "reproduced_copy", "distilled_project", "long_training"}


def pytest_collection_modifyitems(items) -> None:
    """Mark every test that needs a pipeline fixture `slow`; put a test needing `distilled_project` first and one
    needing `tiny_project` second, so that pytest-xdist (which hands out tests in order, one to each worker) starts
    building the two at once, on both cores."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    for position, fixture in enumerate(("distilled_project", "tiny_project")):
        first = next((item for item in items[position:] if fixture in getattr(item, "fixturenames", ())
                      and (fixture != "tiny_project" or "distilled_project" not in item.fixturenames)), None)
        if first is not None:
            items.remove(first)
            items.insert(position, first)


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A tiny raw folder in the mirror's format: 12 complaints, 12 non-complaints, 6 test tweets."""
    raw = tmp_path / "raw"
    raw.mkdir()
    complaints = [f"@united my flight {i} was delayed again and my bag is lost" for i in range(12)]
    non_complaints = [f"@united thanks for the great flight {i} the crew was lovely" for i in range(12)]
    pd.DataFrame({"id": range(100, 112), "airline": "United", "tweet": complaints}).to_csv(
        raw / "complaint1700.csv", index=False
    )
    pd.DataFrame({"id": range(200, 212), "airline": "United", "tweet": non_complaints}).to_csv(
        raw / "noncomplaint1700.csv", index=False
    )
    pd.DataFrame({
        "id": range(1, 7), "tid_not_to_be_used": range(6), "airline": "United", "tag": "x",
        "tweet": [f"@united flight {i} was fine, thanks" for i in range(6)],
    }).to_csv(raw / "test_data.csv", index=False)
    return raw


def make_tiny_mirror(folder: Path, labeled: int = 40, unlabeled: int = 30) -> dict[str, str]:
    """A mirror folder with the first rows of each real CSV, and external/ with every 100th external row (74, all
    airlines); returns the SHA-256 digests by file name."""
    from complaints.core.io import sha256_of
    from complaints.data.external_data import EXTERNAL_FILE

    (folder / "external").mkdir(parents=True, exist_ok=True)
    sizes = {"complaint1700.csv": labeled, "noncomplaint1700.csv": labeled, "test_data.csv": unlabeled}
    for name, rows in sizes.items():
        pd.read_csv(MIRROR / name, dtype=str, keep_default_na=False).head(rows).to_csv(folder / name, index=False)
    external = pd.read_csv(EXTERNAL_MIRROR / EXTERNAL_FILE, dtype=str, keep_default_na=False).iloc[::100]
    external.to_csv(folder / "external" / EXTERNAL_FILE, index=False, lineterminator="\n")
    return {name: sha256_of(folder / name) for name in sizes} | {
        EXTERNAL_FILE: sha256_of(folder / "external" / EXTERNAL_FILE)}


def tiny_params(mirror: Path, digests: dict[str, str], model: str, teacher: str) -> dict:
    """The project's params on a tiny mirror, the encoder `model` and the teacher `teacher`: short MAX_LEN, one
    epoch, small batches and alpha grid, one extra seed and one extra refit, a short bootstrap."""
    import yaml

    from complaints.data.external_data import EXTERNAL_FILE

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    tutorial_digests = {name: digest for name, digest in digests.items() if name != EXTERNAL_FILE}
    params["download"].update(sources=[str(mirror)], sha256=tutorial_digests)
    params["external_data"].update(sources=[str(mirror / "external")], sha256={EXTERNAL_FILE: digests[EXTERNAL_FILE]})
    params["model"]["name"] = model
    params["baseline"].update(alpha_max=2.0, alpha_step=0.5, cv_folds=3)
    params["tokenize"]["max_len"] = 16
    params["train"].update(epochs=1, batch_size=8, eval_batch_size=16)
    params["seeds"].update(seeds=[1], fits=["train", "refit"])
    params["export"]["int8_fp32_layers"] = [0]
    # A random encoder's int8 graph need not pass the engines gate: the tiny project serves the fp32 graph.
    params["predict"]["engine"] = "onnx"
    # One student and its refit: the shallower ones are the same stages on another recipe (test_distillation trains
    # a student on some of the tiny encoder's layers).
    for group in ("students", "student_refits"):
        params["models"][group] = {name: entry for name, entry in params["models"][group].items()
                                   if entry["recipe"] == "train"}
    for group in params["models"].values():  # every recipe of the models list: one short epoch
        for entry in group.values():
            params[entry["recipe"]].update(epochs=1, batch_size=8, eval_batch_size=16)
    params["teacher"]["name"] = teacher
    params["teacher_train"].update(epochs=1, batch_size=8, eval_batch_size=16)
    params["ensemble"]["cv_folds"] = 3
    params["compare"]["resamples"] = 200
    params["threshold"].update(review_size=5, target_count=10)  # of the mirror's 30 test tweets
    params["runtime"]["threads"] = 1  # each pytest-xdist worker is pinned to one core
    return params


def write_tiny_params(folder: Path, model: str, teacher: str) -> Path:
    """A tiny mirror in `folder` and a params.yaml for it, `model` and `teacher`, usable by stage mains; returns the
    params path."""
    import yaml

    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(folder / "mirror", make_tiny_mirror(folder / "mirror"), model, teacher)))
    return path


@pytest.fixture(scope="session")
def tiny_params_file(tmp_path_factory, tiny_encoder, tiny_teacher) -> Path:
    """A params.yaml for the tiny mirror, the tiny encoder and the tiny teacher, usable by stage mains."""
    return built_once(tmp_path_factory, "tiny",
                      lambda folder: write_tiny_params(folder, str(tiny_encoder), str(tiny_teacher))) / "params.yaml"


def released_recipe() -> str:
    """The recipe whose refit the project serves and releases (`release.recipe` in params.yaml)."""
    import yaml

    return yaml.safe_load((ROOT / "params.yaml").read_text())["release"]["recipe"]


def run_threshold(params_path, work, outputs_in) -> dict:
    """The threshold stage on a reproduced project's validation scores and refit of the released recipe; returns its
    report."""
    from stages import threshold

    recipe = released_recipe()
    threshold.main(["--params", str(params_path), "--val", str(work / "plots" / recipe / "val_probabilities.csv"),
                    "--model", str(work / "models" / f"{recipe}_full"), "--split", str(work / "data" / "split"),
                    "--metrics", str(outputs_in / "metrics" / "threshold.json"), "--report", str(outputs_in / "threshold.json"),
                    "--sweep", str(outputs_in / "plots/threshold/sweep.csv")])
    return json.loads((outputs_in / "threshold.json").read_text())


def prepare_tokens(params: list[str], work: Path) -> None:
    """download, split and tokenize into `work`, laid out as the project is."""
    from stages import download, split, tokenize

    download.main(params + ["--out", str(work / "data" / "raw")])
    split.main(params + ["--raw", str(work / "data" / "raw"), "--out", str(work / "data" / "split"),
                         "--duplicates", str(work / "reports" / "duplicates.json")])
    tokenize.main(params + ["--split", str(work / "data" / "split"), "--out", str(work / "data" / "tokens" / "model"),
                            "--stats", str(work / "reports" / "tokens" / "model.json")])


def export_and_predict(params: list[str], work: Path, refit: str) -> None:
    """export `work/models/{refit}` with `work/reports/threshold.json` to `work/models/serving`, then the predict
    stage's scores and labels."""
    from stages import export, predict

    export.main(params + ["--model", str(work / "models" / refit), "--split", str(work / "data" / "split"),
                          "--threshold", str(work / "reports" / "threshold.json"), "--out", str(work / "models" / "serving"),
                          "--metrics", str(work / "metrics" / "engines"), "--report", str(work / "reports" / "export.json")])
    predict.main(params + ["--split", str(work / "data" / "split"), "--model", str(work / "models" / "serving"),
                           "--scores", str(work / "predictions" / "test_scores.parquet"),
                           "--out", str(work / "predictions" / "test.csv"),
                           "--review", str(work / "predictions" / "review_sample.csv")])


@pytest.fixture(scope="session")
def workdir(tiny_project) -> Path:
    """The tiny project after `dvc repro` (the quick path, wired by dvc.yaml itself); tests only read its outputs."""
    return tiny_project


@pytest.fixture(scope="session")
def distilled_project(tmp_path_factory, tiny_encoder, tiny_teacher) -> Path:
    """A second tiny project at another path, after a clean `dvc repro` and `dvc repro distill/dvc.yaml`: the teacher's
    chain on the tiny teacher, its students and the large release. Independent of `tiny_project`, so pytest-xdist
    builds the two at once, and its quick path is a second clean run to compare with. Read-only, like `tiny_project`."""
    def build(base: Path) -> None:
        project = new_tiny_project(base, tiny_encoder, tiny_teacher)
        run(["dvc", "repro"], project)
        run(["dvc", "repro", "distill/dvc.yaml"], project)
        commit_all(project, "distilled")

    return built_once(tmp_path_factory, "distilled", build) / "project"


@pytest.fixture(scope="session")
def real_workdir(tmp_path_factory, tiny_teacher) -> Path:
    """The refit, export and predict stages on the embedded all-MiniLM-L6-v2, for the claims about the real model."""
    from stages import train

    def build(work: Path) -> None:
        params = ["--params", str(write_tiny_params(work, "embedded", str(tiny_teacher)))]
        prepare_tokens(params, work)
        train.main(params + ["--tokens", str(work / "data" / "tokens" / "model"), "--fit", "train",
                             "--model", str(work / "models" / "bert_full"), "--live", str(work / "dvclive" / "bert_full")])
        (work / "reports" / "threshold.json").write_text(json.dumps(
            {"threshold": 0.5, "strategy": "fixed", "val_precision": None, "val_recall": None}))
        export_and_predict(params, work, "bert_full")

    return built_once(tmp_path_factory, "real-work", build)


def new_tiny_project(base: Path, encoder: Path, teacher: Path) -> Path:
    """The project in `base`, on a tiny mirror beside it (a relative source, resolved from the main checkout, also in
    experiments' temporary copies), the tiny encoder and the tiny teacher (by their absolute folders, which every
    copy and clone shares), committed and not yet reproduced."""
    import yaml

    project = copy_project(base)
    params = tiny_params(Path("../mirror"), make_tiny_mirror(base / "mirror"), str(encoder), str(teacher))
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "tiny params"], project)
    return project


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory, tiny_encoder, tiny_teacher) -> Path:
    """The tiny project (`new_tiny_project`) reproduced by `dvc repro` once and committed.

    Read-only: a test that runs `dvc` or changes a file works on `reproduced_copy`.
    """
    def build(base: Path) -> None:
        project = new_tiny_project(base, tiny_encoder, tiny_teacher)
        run(["dvc", "repro"], project)
        commit_all(project, "reproduced")

    return built_once(tmp_path_factory, "tinyclone", build) / "project"


def copy_reproduced(project: Path, destination: Path, own_cache: bool = False) -> Path:
    """A copy of a reproduced project's work tree (git history and outputs) beside the same mirror and `shared/`, on the
    original's DVC cache (or a copy of it with `own_cache`): nothing in it needs to rerun."""
    dvc_folder = project / ".dvc"
    copy = destination / "project"
    shutil.copytree(project, copy, symlinks=True,
                    ignore=lambda folder, names: {"cache", "tmp"} & set(names) if Path(folder) == dvc_folder else set())
    for sibling in ("mirror", "shared"):
        (destination / sibling).symlink_to((project.parent / sibling).resolve())
    if own_cache:
        shutil.copytree(dvc_folder / "cache", copy / ".dvc" / "cache")
    else:
        (copy / ".dvc" / "config.local").write_text(f"[cache]\n    dir = {dvc_folder / 'cache'}\n")
    return copy


@pytest.fixture
def reproduced_copy(tiny_project, tmp_path) -> Path:
    """A copy of `tiny_project` for one test, sharing its DVC cache."""
    return copy_reproduced(tiny_project, tmp_path)


def commit_all(project: Path, message: str) -> None:
    """Commit the copy's whole state (dvc.lock and git-tracked metrics included)."""
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], project)
