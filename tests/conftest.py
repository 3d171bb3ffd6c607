"""Shared fixtures: the project root, the data mirror, tiny CSVs and a throwaway copy of the project."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

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
    """Copy the project's tracked and untracked-but-not-ignored files into a fresh git repo beside `shared/`."""
    files = run(["git", "ls-files", "-co", "--exclude-standard"], ROOT).stdout.split()
    project = destination / "project"
    for name in files:
        if (ROOT / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    (destination / "shared").symlink_to(SHARED)
    run(["git", "init", "-q"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init"], project)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy"], project)
    return project


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
    from complaints.download import sha256_of
    from complaints.external import EXTERNAL_FILE

    (folder / "external").mkdir(parents=True, exist_ok=True)
    sizes = {"complaint1700.csv": labeled, "noncomplaint1700.csv": labeled, "test_data.csv": unlabeled}
    for name, rows in sizes.items():
        pd.read_csv(MIRROR / name, dtype=str, keep_default_na=False).head(rows).to_csv(folder / name, index=False)
    external = pd.read_csv(EXTERNAL_MIRROR / EXTERNAL_FILE, dtype=str, keep_default_na=False).iloc[::100]
    external.to_csv(folder / "external" / EXTERNAL_FILE, index=False, lineterminator="\n")
    return {name: sha256_of(folder / name) for name in sizes} | {
        EXTERNAL_FILE: sha256_of(folder / "external" / EXTERNAL_FILE)}


def tiny_params(mirror: Path, digests: dict[str, str]) -> dict:
    """The project's params on a tiny mirror: short MAX_LEN, one epoch, small batches and alpha grid, one extra seed and
    one extra refit, a short bootstrap."""
    import yaml

    from complaints.external import EXTERNAL_FILE

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    tutorial_digests = {name: digest for name, digest in digests.items() if name != EXTERNAL_FILE}
    params["download"].update(sources=[str(mirror)], sha256=tutorial_digests)
    params["external_data"].update(sources=[str(mirror / "external")], sha256={EXTERNAL_FILE: digests[EXTERNAL_FILE]})
    params["baseline"].update(alpha_max=2.0, alpha_step=0.5, cv_folds=3)
    params["tokenize"]["max_len"] = 16
    params["train"].update(epochs=1, batch_size=8, eval_batch_size=16)
    params["seeds"].update(seeds=[1], refits=1)
    params["tutorial"].update(epochs=1, batch_size=8, eval_batch_size=16)
    params["ensemble"]["cv_folds"] = 3
    params["compare"]["resamples"] = 200
    params["threshold"]["review_size"] = 5
    return params


@pytest.fixture(scope="session")
def tiny_params_file(tmp_path_factory) -> Path:
    """A params.yaml for the tiny mirror, usable by stage mains."""
    import yaml

    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(folder / "mirror", make_tiny_mirror(folder / "mirror"))))
    return path


THRESHOLD_OUTPUTS = ["--out", "test.csv", "--review", "review.csv", "--metrics", "threshold.json", "--sweep",
                     "plots/threshold/sweep.csv"]


def run_threshold(params_path, work, outputs_in) -> dict:
    """The threshold stage on the chain's scores; returns its metrics."""
    from stages import threshold

    threshold.main(["--params", str(params_path), "--scores", str(work / "test_scores.parquet"),
                    "--val", str(work / "plots" / "bert" / "val_probabilities.csv"), "--split", str(work / "split")]
                   + [str(outputs_in / item) if i % 2 else item for i, item in enumerate(THRESHOLD_OUTPUTS)])
    return json.loads((outputs_in / "threshold.json").read_text())


@pytest.fixture(scope="session")
def workdir(tiny_params_file, tmp_path_factory):
    """Run the whole chain of stage mains once in a fresh folder; tests read its outputs."""
    from stages import (
        analysis, baseline, compare, download, engines, ensemble, evaluate, export, external, external_data, predict,
        refit_seeds, release, report, seeds, split, tokenize, train,
    )

    work = tmp_path_factory.mktemp("work")
    params = ["--params", str(tiny_params_file)]
    download.main(params + ["--out", str(work / "raw")])
    split.main(params + ["--raw", str(work / "raw"), "--out", str(work / "split"), "--duplicates", str(work / "dup.json")])
    baseline.main(params + ["--split", str(work / "split"), "--model", str(work / "baseline.joblib"),
                            "--metrics", str(work / "baseline.json"), "--plots", str(work / "plots" / "baseline"),
                            "--cv-plot", str(work / "cv" / "cv_auc.csv"), "--oof", str(work / "baseline_oof.csv")])
    tokenize.main(params + ["--split", str(work / "split"), "--out", str(work / "tokens"), "--stats", str(work / "tokens.json")])
    train.main(params + ["--tokens", str(work / "tokens"), "--train-on", "train", "--model", str(work / "bert"),
                         "--live", str(work / "live")])
    train.main(params + ["--section", "tutorial", "--tokens", str(work / "tokens"), "--train-on", "train",
                         "--model", str(work / "tutorial"), "--live", str(work / "live_tutorial")])
    train.main(params + ["--tokens", str(work / "tokens"), "--train-on", "train", "val", "--epochs-from",
                         str(work / "bert" / "training.json"), "--model", str(work / "bert_full"), "--live", str(work / "live_full")])
    for name in ("bert", "tutorial"):
        evaluate.main(params + ["--tokens", str(work / "tokens"), "--model", str(work / name),
                                "--metrics", str(work / f"{name}.json"), "--plots", str(work / "plots" / name)])
    seeds.main(params + ["--tokens", str(work / "tokens"), "--main", str(work / "bert.json"), "--metrics", str(work / "seeds.json")])
    ensemble.main(params + ["--bert-dev", str(work / "bert" / "dev_probabilities.csv"), "--baseline-oof", str(work / "baseline_oof.csv"),
                            "--bert-val", str(work / "plots" / "bert" / "val_probabilities.csv"),
                            "--baseline-val", str(work / "plots" / "baseline" / "val_probabilities.csv"),
                            "--metrics", str(work / "ensemble.json"), "--plots", str(work / "plots" / "ensemble")])
    compare.main(params + ["--candidates", "bert", "ensemble", "--references", "baseline", "tutorial",
                           "--plots", str(work / "plots"), "--metrics", str(work / "compare.json")])
    export.main(params + ["--model", str(work / "bert_full"), "--split", str(work / "split"), "--out", str(work / "serving"),
                          "--metrics", str(work / "export.json")])
    predict.main(params + ["--split", str(work / "split"), "--model", str(work / "serving"),
                           "--out", str(work / "test_scores.parquet")])
    run_threshold(tiny_params_file, work, work)
    engines.main(params + ["--selection-model", str(work / "bert"), "--serving", str(work / "serving"), "--split",
                           str(work / "split"), "--threshold", str(work / "threshold.json"), "--metrics", str(work / "engines.json")])
    external_data.main(params + ["--split", str(work / "split"), "--out", str(work / "external"),
                                 "--report", str(work / "external_data.json")])
    refit_seeds.main(params + ["--tokens", str(work / "tokens"), "--epochs-from", str(work / "bert" / "training.json"),
                               "--tweets", str(work / "external" / "tweets.parquet"), "--out", str(work / "refit_seeds")])
    external.main(params + ["--tweets", str(work / "external" / "tweets.parquet"), "--baseline", str(work / "baseline.joblib"),
                            "--tutorial", str(work / "tutorial"), "--bert", str(work / "bert"), "--serving", str(work / "serving"),
                            "--bert-dev", str(work / "bert" / "dev_probabilities.csv"),
                            "--baseline-oof", str(work / "baseline_oof.csv"), "--refit-seeds", str(work / "refit_seeds"),
                            "--threshold", str(work / "threshold.json"),
                            "--metrics", str(work / "external.json"), "--plots", str(work / "plots" / "external")])
    analysis.main(params + ["--split", str(work / "split"), "--models", "baseline", "bert", "--plots", str(work / "plots"),
                            "--out", str(work / "plots" / "analysis"), "--metrics", str(work / "analysis.json")])
    release.main(params + ["--serving", str(work / "serving"), "--metrics", str(work), "--out", str(work / "release")])
    report.main(params + ["--metrics", str(work), "--plots", str(work / "plots"), "--out", str(work / "report" / "report.md"),
                          "--figures", str(work / "report" / "figures")])
    return work


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory):
    """A copy of the project on the tiny mirror, reproduced once; tests that change it restore it."""
    import yaml

    base = tmp_path_factory.mktemp("tinyclone")
    project = copy_project(base)
    # A relative source, resolved from the main checkout (also from experiments' temporary copies).
    params = tiny_params(Path("../mirror"), make_tiny_mirror(base / "mirror"))
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "tiny params"], project)
    run(["dvc", "repro"], project)
    commit_all(project, "reproduced")
    return project


def commit_all(project: Path, message: str) -> None:
    """Commit the copy's whole state (dvc.lock and git-tracked metrics included)."""
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], project)
