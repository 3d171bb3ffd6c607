"""Shared fixtures: the project root, the data mirror, tiny CSVs and a throwaway copy of the project."""
from __future__ import annotations

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
    """A mirror folder with the first rows of each real CSV; returns their SHA-256 digests."""
    from complaints.download import sha256_of

    folder.mkdir(parents=True, exist_ok=True)
    sizes = {"complaint1700.csv": labeled, "noncomplaint1700.csv": labeled, "test_data.csv": unlabeled}
    for name, rows in sizes.items():
        pd.read_csv(MIRROR / name, dtype=str, keep_default_na=False).head(rows).to_csv(folder / name, index=False)
    return {name: sha256_of(folder / name) for name in sizes}


def tiny_params(mirror: Path, digests: dict[str, str]) -> dict:
    """The project's params on a tiny mirror: short MAX_LEN, one epoch, small batches and alpha grid, one extra seed."""
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["download"].update(sources=[str(mirror)], sha256=digests)
    params["baseline"].update(alpha_max=2.0, alpha_step=0.5, cv_folds=3)
    params["tokenize"]["max_len"] = 16
    params["train"].update(epochs=1, batch_size=8, eval_batch_size=16, spread_seeds=[1])
    params["tutorial"].update(epochs=1, batch_size=8, eval_batch_size=16)
    params["ensemble"]["cv_folds"] = 3
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
