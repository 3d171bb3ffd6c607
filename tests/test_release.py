"""The release another team picks up: the card, the registry entry, the failure analysis and the report."""
import json
import re
import subprocess
from io import StringIO

import pandas as pd
import pytest
import yaml

from complaints.evaluation.analysis import expected_calibration_error, reliability_curve, slice_metrics
from conftest import BIN, ROOT, copy_reproduced, released_recipe, run

DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())


def card_metadata(card: str) -> dict:
    """The YAML block between the card's first two `---` lines."""
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "the card starts with a YAML metadata block"
    return yaml.safe_load(match.group(1))


def test_the_card_metadata_parses_and_matches_the_metrics(workdir, tiny_encoder):
    card = (workdir / "models" / "release" / "README.md").read_text()
    metadata = card_metadata(card)
    assert metadata["language"] == "en" and metadata["pipeline_tag"] == "text-classification"
    assert metadata["base_model"] == str(tiny_encoder) and metadata["license"] and metadata["tags"]
    (result,) = metadata["model-index"][0]["results"]
    assert result["dataset"]["split"] == "validation" and result["dataset"]["name"]
    # The released recipe's validation figures (its refit trained on validation too).
    released = json.loads((workdir / "reports" / f"{released_recipe()}.json").read_text())
    found = {metric["type"]: metric["value"] for metric in result["metrics"]}
    assert found == {"roc_auc": round(released["auc"], 4), "accuracy": round(released["accuracy"], 4),
                     "f1": round(released["f1"], 4)}
    for section in ("## Intended use", "## Out of scope", "## Training data and procedure", "## Evaluation",
                    "## Threshold", "## Limitations and risks", "## How to use"):
        assert section in card
    threshold = json.loads((workdir / "reports" / "threshold.json").read_text())
    assert f"{threshold['threshold']:.4f}" in card and f"{threshold['prior_estimate']:.1%}" in card
    assert f"{json.loads((workdir / 'reports' / 'seeds.json').read_text())['auc']:.4f}" in card and "0.9048" in card
    config = json.loads((workdir / "models" / "release" / "config.json").read_text())["encoder"]  # the tiny encoder's, not MiniLM's
    assert f"({config['num_hidden_layers']} layers, hidden {config['hidden_size']})" in card
    assert f"Linear({config['hidden_size']}, " in card


def test_one_switch_releases_the_distilled_student_and_its_card_says_how_it_learned(distilled_project, tmp_path):
    project = copy_reproduced(distilled_project, tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["release"]["recipe"] = "student"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ran = set(re.findall(r"Running stage '([\w@/.:-]+)'", run(["dvc", "repro"], project).stdout))
    # The teacher's chain is already there: only what compares, serves or releases the released recipe runs again.
    assert ran == {"compare", "threshold", "export", "predict", "external", "release", "report"}
    card = (project / "models" / "release" / "README.md").read_text()
    student = json.loads((project / "reports" / "student.json").read_text())
    (result,) = card_metadata(card)["model-index"][0]["results"]
    assert {metric["type"]: metric["value"] for metric in result["metrics"]}["roc_auc"] == round(student["auc"], 4)
    distill = json.loads((project / "models" / "release" / "training.json").read_text())["distill"]
    assert distill["teacher"] == "bert_teacher"
    assert (f"at temperature {distill['temperature']} (weight {distill['alpha']})" in card
            and f"on the {distill['labeled_tweets']:,} labeled and {distill['unlabeled_tweets']:,} unlabeled test tweets" in card)


def test_the_release_holds_the_serving_files_byte_for_byte_and_its_threshold(workdir):
    release, serving = workdir / "models" / "release", workdir / "models" / "serving"
    for path in serving.iterdir():
        assert (release / path.name).read_bytes() == path.read_bytes(), path.name
    assert json.loads((release / "threshold.json").read_text()) == json.loads((serving / "threshold.json").read_text())
    record = json.loads((release / "release.json").read_text())
    assert record["cleaning"]["function"] == "complaints.text.cleaning.clean_for_bert" and len(record["cleaning"]["sha256"]) == 64


@pytest.mark.parametrize("name, path", [("complaint-classifier", "models/release"),
                                        ("complaint-classifier-large", "models/release_large")])
def test_the_registry_entries_name_the_releases(name, path):
    artifact = DVC_YAML["artifacts"][name]
    assert artifact["type"] == "model" and artifact["path"] == path and artifact["desc"] and artifact["labels"]
    distill = yaml.safe_load((ROOT / "distill" / "dvc.yaml").read_text())
    assert any(path in stage.get("outs", []) for stage in [*DVC_YAML["stages"].values(), *distill["stages"].values()])


def test_slices_calibration_and_mistakes_are_computed_honestly():
    tweets = pd.DataFrame({"id": range(8), "airline": ["United"] * 4 + ["Delta"] * 4, "label": [0, 1] * 4,
                           "text": ["late again #fail", "thanks http://t.co/x", "bag lost", "great crew"] * 2})
    probability = pd.Series([0.1, 0.9, 0.6, 0.8, 0.2, 0.7, 0.3, 0.4]).to_numpy()
    slices = slice_metrics(tweets, probability).set_index(["slice_kind", "slice"])
    assert slices.loc[("airline", "United"), "tweets"] == 4 and slices.loc[("airline", "United"), "accuracy"] == 0.75
    assert slices.loc[("url", "with a URL"), "tweets"] == 2 and slices.loc[("hashtag", "with a hashtag"), "tweets"] == 2
    curve = reliability_curve(tweets["label"].to_numpy(), probability)
    assert curve["tweets"].sum() == 8 and len(curve) == 10
    perfect = reliability_curve(tweets["label"].to_numpy(), tweets["label"].to_numpy().astype(float))
    assert expected_calibration_error(perfect) == 0 and 0 < expected_calibration_error(curve) < 1


def test_analysis_outputs_both_models_side_by_side(workdir):
    for model in ("baseline", "bert"):
        slices = pd.read_csv(workdir / "plots" / "analysis" / model / "slices.csv")
        assert {"airline", "length", "url", "hashtag"} == set(slices["slice_kind"]) and (slices["tweets"] > 0).all()
        assert slices.groupby("slice_kind")["tweets"].sum().eq(8).all()
        mistakes = pd.read_csv(workdir / "plots" / "analysis" / model / "mistakes.csv")
        assert set(mistakes["mistake"]) <= {"false complaint", "false non-complaint"} and len(mistakes) <= 20
    summary = json.loads((workdir / "reports" / "analysis.json").read_text())
    assert 0 <= summary["bert_ece"] <= 1 and 0 <= summary["baseline_ece"] <= 1


def test_every_image_the_report_links_exists_and_is_a_non_empty_png(workdir):
    report = (workdir / "reports" / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(images) == 4
    for image in images:
        data = (workdir / "reports" / image).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, image
    assert "## Headline" in report and "| model | metric | this run |" in report and "false" in report


def readme_registry_commands() -> tuple[str, str]:
    """The README's registry block as written: (the producer's lines, the consumer's lines)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- registry:start -->", 1)[1].split("<!-- registry:end -->", 1)[0]
    script = block.split("```bash\n", 1)[1].split("```", 1)[0]
    producer, consumer = script.split("\n# a consumer", 1)
    return producer, "# a consumer" + consumer


def test_the_readmes_registry_commands_work_as_written_from_a_second_clone(reproduced_copy, tmp_path):
    # The team's git server (a bare repository) and DVC remote; the producer's clone shares the reproduced cache.
    origin, remote, producer = tmp_path / "origin.git", tmp_path / "team-remote", tmp_path / "producer"
    run(["git", "clone", "-q", "--bare", str(reproduced_copy), str(origin)], tmp_path)
    run(["git", "clone", "-q", str(origin), str(producer)], tmp_path)
    cache = run(["dvc", "cache", "dir"], reproduced_copy).stdout.strip()
    run(["dvc", "cache", "dir", "--local", cache], producer)
    run(["dvc", "remote", "add", "-f", "-d", "team", str(remote)], producer)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "team remote"], producer)
    run(["git", "push", "-q", "origin", "HEAD"], producer)
    producer_lines, consumer_lines = readme_registry_commands()
    environment = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "GIT_AUTHOR_NAME": "t",
                   "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    made = subprocess.run(["bash", "-euo", "pipefail", "-c", producer_lines], cwd=producer, env=environment,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr

    consumer = tmp_path / "consumer"
    consumer.mkdir()
    used = subprocess.run(["bash", "-euo", "pipefail", "-c", consumer_lines], cwd=consumer,
                          env=environment | {"REPO": str(origin)}, capture_output=True, text=True)
    assert used.returncode == 0, used.stderr
    for fetched in (consumer / "cc-1.0.0", consumer / "cc-latest"):
        assert (fetched / "README.md").is_file() and (fetched / "model.onnx").is_file()
        assert (fetched / "model.safetensors").stat().st_size > 1_000_000
    printed = used.stdout.splitlines()
    header = next(index for index, line in enumerate(printed) if "non_complaint_probability" in line)
    row = pd.read_csv(StringIO("\n".join(printed[header:]))).iloc[0]
    threshold = json.loads((consumer / "cc-latest" / "threshold.json").read_text())["threshold"]
    assert row["label"] == ("non-complaint" if row["non_complaint_probability"] > threshold else "complaint")


def test_the_card_names_the_embedded_model_by_its_hub_id():
    from complaints.release.card import CardInputs, metadata

    scores = {"auc": 0.9, "accuracy": 0.8, "f1": 0.7}
    inputs = CardInputs(recipe="bert", model=scores, tutorial={}, baseline={}, ensemble={}, seeds={}, compare={}, threshold={},
                        export={}, training={"model": {"name": "embedded"}}, config={})
    assert metadata(inputs)["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
