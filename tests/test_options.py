"""benchmarks.options names what an experiment switched: the recipe and `distill` params, not the tweet counts."""
from benchmarks.options import switches, verdict


def test_switches_name_changed_params_and_leave_out_the_distill_counts():
    default = {"train": {"lr": 5e-5, "epochs": 3}, "distill": {"alpha": 0.9, "labeled_tweets": 3060,
                                                               "unlabeled_tweets": 4553}}
    training = {"train": {"lr": 3e-5, "epochs": 3}, "distill": {"alpha": 0.5, "labeled_tweets": 3400,
                                                                "unlabeled_tweets": 0}}
    assert switches(training, default) == {"train.lr": 3e-5, "distill.alpha": 0.5}
    assert switches({"train": {"lr": 2e-5}}, {"train": {"lr": 3e-5}}, "teacher_train") == {"teacher_train.lr": 2e-5}


def test_the_rule_counts_training_noise_on_top_of_the_test_sets():
    # +0.006 with a bootstrap SE of 0.001 wins on the test set's noise alone, but not against two single seeds of a
    # recipe whose external AUC moves by 0.004 from seed to seed: SE sqrt(0.001^2 + 2 * 0.004^2) = 0.0058.
    difference = {"difference": 0.006, "se": 0.001}
    assert verdict(difference) == "better"
    assert verdict(difference, seed_variance=2 * 0.004 ** 2) == "tie"
    assert verdict({"difference": -0.02, "se": 0.001}, seed_variance=2 * 0.004 ** 2) == "worse"


def test_the_spread_summarises_each_figure_over_seeds_with_the_sample_deviation():
    from benchmarks.spread import summary

    per_seed = {"1": {"val_auc": 0.90, "external_auc": 0.92, "chosen_epoch": 2},
                "2": {"val_auc": 0.92, "external_auc": 0.93, "chosen_epoch": 3}}
    figures = summary(per_seed)
    assert set(figures) == {"val_auc", "external_auc"}
    assert figures["val_auc"] == {"mean": 0.91, "std": figures["val_auc"]["std"], "min": 0.90, "max": 0.92}
    assert abs(figures["val_auc"]["std"] - 0.0141421) < 1e-6


def test_an_options_switches_must_be_keys_of_its_recipes_section():
    import pytest
    from benchmarks.spread import option_switches

    params = {"teacher_train": {"lr": 5e-5, "warmup_steps": 0}, "train": {"lr": 5e-5}}
    assert option_switches(["teacher_train.lr=2e-5", "teacher_train.warmup_steps=26"], params, "teacher_train") == {
        "teacher_train.lr": 2e-5, "teacher_train.warmup_steps": 26}
    for wrong in ("train.lr=2e-5", "teacher_train.rate=2e-5", "teacher_train.lr"):
        with pytest.raises(SystemExit, match="expected teacher_train.KEY=VALUE with KEY one of .*lr, warmup_steps"):
            option_switches([wrong], params, "teacher_train")


def test_an_option_writes_its_own_params_file_and_leaves_the_projects_alone(tmp_path, monkeypatch):
    import yaml
    import benchmarks.spread as spread

    monkeypatch.setattr(spread, "WORK", tmp_path)
    params = {"teacher_train": {"lr": 5e-5, "best_epoch": True}, "runtime": {"threads": 2}}
    path = spread.option_params("teacher+average", params, {"teacher_train.best_epoch": False})
    assert yaml.safe_load(path.read_text()) == {"teacher_train": {"lr": 5e-5, "best_epoch": False},
                                                "runtime": {"threads": 2}}
    assert params["teacher_train"]["best_epoch"] is True


def test_an_option_at_one_seed_borrows_its_recipes_seed_spread():
    from benchmarks.spread import measured_fit

    recipe = {"seeds": [1, 2, 42], "external_auc": {"mean": 0.919, "std": 0.009}}
    option = {"seeds": [42], "external_auc": {"mean": 0.925, "std": 0.0}}
    results = {"recipes": {"teacher": {"fits": {"train": recipe}}},
               "options": {"teacher+warmup": {"fits": {"train": option}}}}
    assert measured_fit(results, "teacher+warmup")["external_auc"] == {"mean": 0.925, "std": 0.009}
    assert measured_fit(results, "teacher") is recipe
    option["seeds"], option["external_auc"]["std"] = [1, 42], 0.002
    assert measured_fit(results, "teacher+warmup")["external_auc"]["std"] == 0.002


def test_a_run_saves_its_own_entry_over_the_file_as_it_is_now(tmp_path, monkeypatch):
    import json
    import benchmarks.spread as spread

    monkeypatch.setattr(spread, "RESULTS", tmp_path)
    # A training run loaded the file before a judge run wrote its verdict; its next save keeps the verdict.
    spread.save_entry("options", "teacher+reinit", {"fits": {}})
    spread.save_entry("comparisons", "teacher+reinit_vs_teacher", {"verdict": "tie"})
    spread.save_entry("options", "teacher+reinit", {"fits": {"train": {"seeds": [2]}}})
    saved = json.loads((tmp_path / "spread.json").read_text())
    assert saved["comparisons"] == {"teacher+reinit_vs_teacher": {"verdict": "tie"}}
    assert saved["options"] == {"teacher+reinit": {"fits": {"train": {"seeds": [2]}}}}
    assert saved["machine"]["cpu"] == spread.cpu_model() and list(tmp_path.iterdir()) == [tmp_path / "spread.json"]
