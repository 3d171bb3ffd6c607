import numpy as np
import pytest

from complaints.core.config import ParamsError
from complaints.evaluation.figures import scores_at
from complaints.evaluation.threshold import (
    ThresholdParams, choose_threshold, count_threshold, estimate_prior, just_below, max_f1_threshold, precision_threshold,
)

LABELS = np.array([0, 0, 0, 1, 0, 1, 1, 1])
SCORES = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])


def test_just_below_turns_at_least_into_greater_than():
    assert just_below(SCORES, 0.7) == pytest.approx(0.65)
    assert just_below(SCORES, 0.1) == pytest.approx(0.05)
    assert ((SCORES > just_below(SCORES, 0.6)) == (SCORES >= 0.6)).all()


def test_count_threshold_calls_the_n_highest():
    test = np.linspace(0.01, 1, 100)
    assert (test > count_threshold(test, 7)).sum() == 7
    assert (test > count_threshold(test, 500)).sum() == 100


def test_max_f1_threshold():
    # Calling the top five (>= 0.4) finds all four non-complaints with one false alarm: F1 8/9, the best.
    cut = max_f1_threshold(LABELS, SCORES)
    assert 0.3 < cut < 0.4 and scores_at(LABELS, SCORES, cut)["f1"] == pytest.approx(8 / 9)


def test_precision_threshold_is_the_lowest_reaching_the_target():
    assert 0.6 < precision_threshold(LABELS, SCORES, 1.0) < 0.7
    assert 0.3 < precision_threshold(LABELS, SCORES, 0.8) < 0.4
    with pytest.raises(ParamsError, match=r"threshold\.target_precision = 1.0.*best precision 0.500"):
        precision_threshold(np.array([1, 0]), np.array([0.2, 0.9]), 1.0)


def test_choose_threshold_dispatches_on_the_strategy():
    test = np.linspace(0, 1, 11)
    assert choose_threshold(ThresholdParams(strategy="fixed", fixed=0.42), LABELS, SCORES, test) == 0.42
    assert (test > choose_threshold(ThresholdParams(strategy="target_count", target_count=3), LABELS, SCORES, test)).sum() == 3


def test_em_recovers_a_shifted_prior_from_calibrated_posteriors():
    # Scores calibrated for a 50/50 training prior, on a test set where only 10% are non-complaints.
    rng = np.random.default_rng(0)
    labels = rng.random(20_000) < 0.1
    logit = rng.normal(np.where(labels, 1.5, -1.5), 1.0)
    # Class-conditional N(+-1.5, 1) gives the 50/50 posterior sigmoid(3 * logit).
    posterior = 1 / (1 + np.exp(-3 * logit))
    share, iterations = estimate_prior(posterior, 0.5)
    assert share == pytest.approx(labels.mean(), abs=0.01) and iterations > 1
    assert posterior.mean() > 0.15  # the naive average overstates it
    assert estimate_prior(np.full(10, 0.5), 0.5) == (0.5, 1)
