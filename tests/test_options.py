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
