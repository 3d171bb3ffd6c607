"""benchmarks.options names what an experiment switched: the recipe and `distill` params, not the tweet counts."""
from benchmarks.options import switches


def test_switches_name_changed_params_and_leave_out_the_distill_counts():
    default = {"train": {"lr": 5e-5, "epochs": 3}, "distill": {"alpha": 0.9, "labeled_tweets": 3060,
                                                               "unlabeled_tweets": 4553}}
    training = {"train": {"lr": 3e-5, "epochs": 3}, "distill": {"alpha": 0.5, "labeled_tweets": 3400,
                                                                "unlabeled_tweets": 0}}
    assert switches(training, default) == {"train.lr": 3e-5, "distill.alpha": 0.5}
    assert switches({"train": {"lr": 2e-5}}, {"train": {"lr": 3e-5}}, "teacher_train") == {"teacher_train.lr": 2e-5}
