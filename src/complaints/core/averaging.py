"""Models averaged: the (weighted) mean of their non-complaint probabilities, the one rule every average follows (the
ensembles the pipeline scores and the ensemble folder the predictor serves)."""
from __future__ import annotations

import numpy as np


def mean_probability(members: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """Models averaged: the (weighted) mean of their non-complaint probabilities, tweet by tweet."""
    return np.average(members, axis=0, weights=weights)
