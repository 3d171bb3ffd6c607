"""Where to cut the non-complaint probability, four ways, and how many non-complaints the test set holds.

Every threshold is used by the rule of `complaints.core.decision`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_recall_curve

from complaints.core.config import ParamsError, require

STRATEGIES = ("fixed", "target_count", "max_f1", "precision_at")


@dataclass(frozen=True)
class ThresholdParams:
    """The `threshold` section: the strategy, each strategy's target, and the review sample."""

    strategy: str = "target_count"
    fixed: float = 0.9
    target_count: int = 300
    target_precision: float = 0.9
    review_size: int = 20
    review_seed: int = 42

    def __post_init__(self) -> None:
        require(self.strategy in STRATEGIES, "threshold.strategy", self.strategy, f"one of {', '.join(STRATEGIES)}")
        require(0 < self.fixed < 1, "threshold.fixed", self.fixed, "a number strictly between 0 and 1")
        require(self.target_count >= 1, "threshold.target_count", self.target_count, "an integer >= 1")
        require(0 < self.target_precision <= 1, "threshold.target_precision", self.target_precision, "a share in (0, 1]")
        require(self.review_size >= 0, "threshold.review_size", self.review_size, "an integer >= 0")


def just_below(probability: np.ndarray, cut: float) -> float:
    """The threshold at which the rule calls exactly the tweets scored at least `cut` non-complaints: midway to the next
    lower score (scikit-learn's curves cut at `cut` inclusive)."""
    lower = probability[probability < cut]
    return float((cut + (lower.max() if len(lower) else 0.0)) / 2)


def count_threshold(test_probability: np.ndarray, count: int) -> float:
    """The threshold that calls the `count` highest-scored test tweets non-complaints (ties may add a few)."""
    ranked = np.sort(test_probability)[::-1]
    return just_below(test_probability, ranked[min(count, len(ranked)) - 1])


def max_f1_threshold(labels: np.ndarray, probability: np.ndarray) -> float:
    """The threshold with the highest F1 of non-complaint on these labeled tweets."""
    precision, recall, cuts = precision_recall_curve(labels, probability)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return just_below(probability, cuts[int(np.argmax(f1))])


def precision_threshold(labels: np.ndarray, probability: np.ndarray, target: float) -> float:
    """The lowest threshold whose precision of non-complaint reaches `target` on these labeled tweets."""
    precision, _, cuts = precision_recall_curve(labels, probability)
    reaching = np.flatnonzero(precision[:-1] >= target)
    if not len(reaching):
        raise ParamsError(f"threshold.target_precision = {target}: no threshold reaches it on validation "
                          f"(best precision {precision[:-1].max():.3f}); expected a lower target")
    return just_below(probability, cuts[reaching[0]])


def choose_threshold(params: ThresholdParams, labels: np.ndarray, val_probability: np.ndarray,
                     test_probability: np.ndarray) -> float:
    """The threshold of `params.strategy`."""
    if params.strategy == "fixed":
        return params.fixed
    if params.strategy == "target_count":
        return count_threshold(test_probability, params.target_count)
    if params.strategy == "max_f1":
        return max_f1_threshold(labels, val_probability)
    return precision_threshold(labels, val_probability, params.target_precision)


def estimate_prior(probability: np.ndarray, training_prior: float, tolerance: float = 1e-8,
                   max_iterations: int = 10_000) -> tuple[float, int]:
    """Share of non-complaints among unlabeled tweets by EM on the posteriors (Saerens, Latinne, Decaestecker 2002).

    Re-weights each posterior by the ratio of the new to the training prior, averages, and repeats to a fixed
    point; returns (share, iterations).
    """
    prior = training_prior
    for iteration in range(1, max_iterations + 1):
        positive = probability * prior / training_prior
        negative = (1 - probability) * (1 - prior) / (1 - training_prior)
        updated = float(np.mean(positive / (positive + negative)))
        if abs(updated - prior) < tolerance:
            return updated, iteration
        prior = updated
    return prior, max_iterations
