"""The real pipeline through the real `dvc`, in a throwaway copy of the project beside `shared/`."""
import json

import pytest

from conftest import copy_project, run


pytestmark = pytest.mark.slow  # real `dvc repro` of the cheap stages on the real data


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("clone"))


def test_repro_runs_the_foundation_then_nothing(project):
    first = run(["dvc", "repro", "baseline"], project)
    for stage in ("download", "split", "baseline"):
        assert f"Running stage '{stage}'" in first.stdout
    metrics = json.loads((project / "metrics" / "baseline.json").read_text())
    assert round(metrics["auc"], 4) == 0.8451 and round(metrics["accuracy"], 4) == 0.7559
    second = run(["dvc", "repro", "baseline"], project)
    assert "Running stage" not in second.stdout
    shown = run(["dvc", "metrics", "show", "--json"], project).stdout
    assert '"auc"' in shown
