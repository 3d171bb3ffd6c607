"""dvc.yaml against the code: deps are exactly the imported modules, params keys exist, reruns are exact."""
import ast
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, copy_project, make_tiny_mirror, run, tiny_params

DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def project_imports(path: Path, seen: set[str] | None = None) -> set[str]:
    """Files of the `complaints` package that `path` imports, transitively."""
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        names += [alias.name for alias in getattr(node, "names", [])] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module == "complaints":
            names += [f"complaints.{alias.name}" for alias in node.names]
        for name in names:
            file = ROOT / "src" / (name.replace(".", "/") + ".py")
            if name.startswith("complaints.") and file.exists() and str(file) not in seen:
                seen.add(str(file))
                project_imports(file, seen)
    return seen


@pytest.mark.parametrize("name", list(DVC_YAML["stages"]))
def test_stage_deps_are_exactly_its_script_and_imported_modules(name):
    stage = DVC_YAML["stages"][name]
    script = ROOT / (re.search(r"python -m (stages\.\w+)", stage["cmd"]).group(1).replace(".", "/") + ".py")
    code_deps = {dep for dep in stage["deps"] if dep.endswith(".py")}
    expected = {str(script.relative_to(ROOT))} | {str(Path(f).relative_to(ROOT)) for f in project_imports(script)}
    assert code_deps == expected


@pytest.mark.parametrize("name", list(DVC_YAML["stages"]))
def test_stage_params_exist(name):
    for key in DVC_YAML["stages"][name].get("params", []):
        node = PARAMS
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"stage {name}: params key {key} not in params.yaml"
            node = node[part]


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    """A copy of the project on the tiny mirror, reproduced once."""
    base = tmp_path_factory.mktemp("tinyclone")
    project = copy_project(base)
    params = tiny_params(base / "mirror", make_tiny_mirror(base / "mirror"))
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "tiny params"], project)
    run(["dvc", "repro"], project)
    commit_all(project, "reproduced")
    return project


def commit_all(project: Path, message: str) -> None:
    """Commit the copy's whole state (dvc.lock and git-tracked metrics included)."""
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], project)


def stages_run_after(project: Path, path: Path, new_text: str) -> set[str]:
    """Write `new_text` to `path`, `dvc repro`, return the stages that ran; then restore the committed state."""
    path.write_text(new_text)
    try:
        output = run(["dvc", "repro"], project).stdout
    finally:
        run(["git", "checkout", "--", "."], project)
        run(["dvc", "checkout", "--force"], project)
    return set(re.findall(r"Running stage '([\w@-]+)'", output))


def test_second_repro_runs_nothing_and_metrics_line_up(tiny_project):
    assert "Running stage" not in run(["dvc", "repro"], tiny_project).stdout
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], tiny_project).stdout)
    files = next(iter(shown.values()))["data"]
    baseline, bert = files["metrics/baseline.json"]["data"], files["metrics/bert.json"]["data"]
    assert {"auc", "accuracy", "f1"} <= set(baseline) & set(bert)


BERT_STAGES = {"train", "refit", "evaluate", "predict"}


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("predict", "threshold", 0.8, {"predict"}),
        ("train", "lr", 3.0e-5, BERT_STAGES),
        ("tokenize", "max_len", 24, {"tokenize"} | BERT_STAGES),
        ("baseline", "alpha", 1.5, {"baseline"}),
    ],
)
def test_a_params_change_reruns_exactly_the_stages_that_read_it(tiny_project, section, key, value, expected):
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params[section][key] = value
    assert stages_run_after(tiny_project, tiny_project / "params.yaml", yaml.safe_dump(params, sort_keys=False)) == expected


@pytest.mark.parametrize(
    "module, expected",
    [("prediction.py", {"predict"}), ("baseline.py", {"baseline"}), ("download.py", {"download"})],
)
def test_editing_a_module_reruns_only_the_stages_importing_it(tiny_project, module, expected):
    path = tiny_project / "src" / "complaints" / module
    assert stages_run_after(tiny_project, path, path.read_text() + "\n# edited\n") == expected
