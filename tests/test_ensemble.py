import json

import numpy as np
import pandas as pd
import pytest

from complaints.evaluation.ensemble import (
    Combination, EnsembleParams, averaged, dev_auc, fit_stacker, fitted_combination, mean_probability, read_combination,
    stack_features,
)
from complaints.core.io import DataError
from complaints.evaluation.seeds import seed_spread
from complaints.evaluation.figures import bootstrap_auc_difference


def two_models(count: int = 400, seed: int = 0):
    """Labels and two noisy scores that each carry part of the signal."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    strong = 1 / (1 + np.exp(-(2 * labels - 1 + rng.normal(0, 1.2, count))))
    weak = 1 / (1 + np.exp(-(0.5 * (2 * labels - 1) + rng.normal(0, 1.2, count))))
    return labels, strong, weak


def test_average_is_the_mean_of_probabilities():
    assert Combination("average").non_complaint_probability(np.array([0.2, 0.8]), np.array([0.4, 0.4])).tolist() == (
        pytest.approx([0.3, 0.6]))


def test_stacker_weights_the_stronger_model_more_and_scores_out_of_fold():
    labels, strong, weak = two_models()
    stacker = fit_stacker(stack_features(strong, weak), labels)
    assert stacker.coef_[0][0] > stacker.coef_[0][1] > 0
    probability = fitted_combination("stack", pd.DataFrame({"bert": strong, "baseline": weak, "label": labels})
                                     ).non_complaint_probability(strong, weak)
    assert np.abs(probability - stacker.predict_proba(stack_features(strong, weak))[:, 1]).max() < 1e-12
    assert ((probability > 0) & (probability < 1)).all()
    honest = dev_auc("stack", labels, strong, weak, EnsembleParams(method="stack"))
    from sklearn.metrics import roc_auc_score
    assert honest <= roc_auc_score(labels, probability) + 1e-9


def test_stacker_folds_beyond_the_smaller_dev_class_are_rejected_with_the_key():
    from complaints.core.config import ParamsError

    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    with pytest.raises(ParamsError, match=r"ensemble\.cv_folds.*got 5, expected at most 3"):
        dev_auc("stack", labels, np.linspace(0, 1, 8), np.linspace(0, 1, 8), EnsembleParams(method="stack"))


def test_stack_features_survive_probabilities_of_exactly_0_and_1():
    assert np.isfinite(stack_features(np.array([0.0, 1.0]), np.array([1.0, 0.0]))).all()


def test_bootstrap_interval_brackets_the_difference_and_is_zero_for_one_model():
    labels, strong, weak = two_models()
    difference = bootstrap_auc_difference(labels, strong, weak, 300, seed=1)
    assert difference["ci_low"] < difference["difference"] < difference["ci_high"] and difference["ci_low"] > 0
    same = bootstrap_auc_difference(labels, strong, strong, 100, seed=1)
    assert same == {"difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "se": 0.0}


def test_seed_spread():
    spread = seed_spread({1: {"auc": 0.8, "accuracy": 0.7, "f1": 0.6}, 2: {"auc": 0.9, "accuracy": 0.8, "f1": 0.7},
                          3: {"auc": 0.85, "accuracy": 0.75, "f1": 0.65}})
    assert spread["seeds"] == 3 and spread["auc"] == pytest.approx(0.85) and spread["auc_std"] == pytest.approx(0.05)
    assert spread["auc_per_seed"]["2"] == 0.9 and spread["accuracy_min"] == 0.7 and spread["f1"] == pytest.approx(0.65)


def test_the_fitted_combination_round_trips_through_its_file(tmp_path):
    labels, strong, weak = two_models()
    fitted = fitted_combination("stack", pd.DataFrame({"bert": strong, "baseline": weak, "label": labels}))
    (tmp_path / "ensemble.json").write_text(json.dumps(vars(fitted)))
    assert read_combination(tmp_path / "ensemble.json") == fitted
    (tmp_path / "ensemble.json").write_text(json.dumps({"method": "vote"}))
    with pytest.raises(Exception, match=r"ensemble.json: 'method' is 'vote', expected one of average, stack"):
        read_combination(tmp_path / "ensemble.json")


def write_probabilities(path, ids, labels, probability):
    """A val_probabilities.csv as the evaluate stage writes one."""
    pd.DataFrame({"id": ids, "label": labels, "non_complaint_probability": probability}).to_csv(path, index=False)


def test_encoders_are_averaged_tweet_by_tweet_whatever_the_row_order(tmp_path):
    write_probabilities(tmp_path / "bert.csv", [1, 2, 3], [0, 1, 1], [0.2, 0.6, 0.9])
    write_probabilities(tmp_path / "teacher.csv", [3, 1, 2], [1, 0, 1], [0.7, 0.4, 0.8])
    table, probability = averaged([tmp_path / "bert.csv", tmp_path / "teacher.csv"])
    assert table["id"].tolist() == [1, 2, 3] and table["label"].tolist() == [0, 1, 1]
    assert np.allclose(probability, [0.3, 0.7, 0.8])
    assert np.allclose(mean_probability([np.array([0.2, 0.6]), np.array([0.4, 0.8])]), [0.3, 0.7])


@pytest.mark.parametrize("ids, labels", [([1, 2, 4], [0, 1, 1]), ([1, 2, 3], [0, 1, 0])])
def test_members_scoring_other_tweets_or_labels_are_rejected_naming_the_file(tmp_path, ids, labels):
    write_probabilities(tmp_path / "bert.csv", [1, 2, 3], [0, 1, 1], [0.2, 0.6, 0.9])
    write_probabilities(tmp_path / "teacher.csv", ids, labels, [0.7, 0.4, 0.8])
    with pytest.raises(DataError, match=r"teacher.csv: does not score the tweets of .*bert.csv with their labels"):
        averaged([tmp_path / "bert.csv", tmp_path / "teacher.csv"])
