"""The tutorial's baseline as one scikit-learn Pipeline: its bag-of-words cleaning (NLTK stopwords), TF-IDF,
Multinomial NB."""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from complaints.core.config import require
from complaints.core.io import DataError, fixed_precision_column

logger = logging.getLogger(__name__)

KEPT_STOPWORDS = frozenset({"not", "can"})
_MENTION = re.compile(r"(@.*?)[\s]")
_NOT = re.compile(r"\'t")
_PUNCTUATION = re.compile(r"([\'\"\.\(\)\!\?\\\/\,])")
_NON_WORD = re.compile(r"[^\w\s\?]")
_SPECIAL = re.compile(r"([\;\:\|•«\n])")
_SPACES = re.compile(r"\s+")


def english_stopwords(nltk_data: Path) -> frozenset[str]:
    """NLTK's English stopwords: the installed corpus, else the `nltk_data` mirror, else a download."""
    import nltk  # here, not at the top: importing nltk takes seconds, and only the baseline needs it

    try:
        return frozenset(nltk.corpus.stopwords.words("english"))
    except LookupError:
        nltk.data.path.append(str(nltk_data))
    try:
        return frozenset(nltk.corpus.stopwords.words("english"))
    except LookupError:
        logger.info("NLTK stopwords neither installed nor in %s: downloading", nltk_data)
    nltk.download("stopwords", quiet=True, raise_on_error=True)
    return frozenset(nltk.corpus.stopwords.words("english"))


def clean_for_bag_of_words(text: str, stopwords: frozenset[str]) -> str:
    """The tutorial's TF-IDF preprocessing: lowercase, 't -> not, no @mentions, punctuation except ?, stopwords."""
    text = text.lower()
    text = _NOT.sub(" not", text)
    text = _MENTION.sub(" ", text)
    text = _PUNCTUATION.sub(r" \1 ", text)
    text = _NON_WORD.sub(" ", text)
    text = _SPECIAL.sub(" ", text)
    text = " ".join(word for word in text.split() if word not in stopwords or word in KEPT_STOPWORDS)
    return _SPACES.sub(" ", text).strip()


@functools.lru_cache(maxsize=1 << 16)
def _clean_for_bag_of_words_cached(text: str, stopwords: tuple[str, ...]) -> str:
    """`clean_for_bag_of_words`, remembered: cross-validation cleans each fold's tweets once per alpha."""
    return clean_for_bag_of_words(text, _as_set(stopwords))


@functools.lru_cache(maxsize=8)
def _as_set(stopwords: tuple[str, ...]) -> frozenset[str]:
    """A stopword tuple as a set, built once."""
    return frozenset(stopwords)


def clean_all_for_bag_of_words(texts: Iterable[str], stopwords: tuple[str, ...]) -> list[str]:
    """`clean_for_bag_of_words` over many texts (a scikit-learn FunctionTransformer step)."""
    return [_clean_for_bag_of_words_cached(text, stopwords) for text in texts]


@dataclass(frozen=True)
class BaselineParams:
    """The `baseline` section: TF-IDF n-grams, the alpha grid and CV, and an optional pinned alpha."""

    ngram_min: int = 1
    ngram_max: int = 3
    alpha_min: float = 1.0
    alpha_max: float = 9.9
    alpha_step: float = 0.1
    cv_folds: int = 5
    cv_seed: int = 1
    alpha: float | None = None
    nltk_data: str = "../shared/nltk_data"

    def __post_init__(self) -> None:
        require(1 <= self.ngram_min <= self.ngram_max, "baseline.ngram_min", self.ngram_min, "1 <= ngram_min <= ngram_max")
        require(self.alpha_min > 0, "baseline.alpha_min", self.alpha_min, "a positive number")
        require(self.alpha_max >= self.alpha_min, "baseline.alpha_max", self.alpha_max, ">= alpha_min")
        require(self.alpha_step > 0, "baseline.alpha_step", self.alpha_step, "a positive number")
        require(self.cv_folds >= 2, "baseline.cv_folds", self.cv_folds, "an integer >= 2")
        require(self.alpha is None or self.alpha > 0, "baseline.alpha", self.alpha, "null (CV best) or a positive number")

    def alpha_grid(self) -> list[float]:
        """Alphas from alpha_min to alpha_max inclusive, rounded so 1.8 is 1.8."""
        count = int(round((self.alpha_max - self.alpha_min) / self.alpha_step)) + 1
        return [round(self.alpha_min + i * self.alpha_step, 10) for i in range(count)]


class InProcessMemory:
    """A joblib.Memory stand-in for `Pipeline(memory=...)` that keeps fitted steps in this process.

    joblib.Memory re-reads a pickled TF-IDF vocabulary from disk for every CV candidate, which costs more
    than refitting; here each fold's cleaning + TF-IDF is fitted once and reused for every alpha.
    """

    def __init__(self) -> None:
        self._results: dict[tuple, object] = {}

    def __deepcopy__(self, memo: dict) -> InProcessMemory:
        # sklearn's clone deep-copies params; the store must stay shared across candidates.
        return self

    def cache(self, fit_transform: Callable, ignore: tuple = ()) -> Callable:
        """Memoize `fit_transform(transformer, X, y, ...)` on the unfitted transformer and the data."""

        def cached(transformer, X, y, *args, **kwargs):
            key = (joblib.hash(transformer), len(X), hash(tuple(X)), joblib.hash(y))
            if key not in self._results:
                self._results[key] = fit_transform(transformer, X, y, *args, **kwargs)
            return self._results[key]

        return cached


def build_pipeline(stopwords: frozenset[str], ngram_range: tuple[int, int], alpha: float) -> Pipeline:
    """Cleaning -> TF-IDF (binary, unsmoothed idf, as the tutorial) -> MultinomialNB, fitted on raw tweets."""
    return Pipeline([
        # Sorted: a frozenset's order (and so the pickle's bytes) changes with Python's hash seed.
        ("clean", FunctionTransformer(partial(clean_all_for_bag_of_words, stopwords=tuple(sorted(stopwords))))),
        ("tfidf", TfidfVectorizer(ngram_range=ngram_range, binary=True, smooth_idf=False)),
        ("nb", MultinomialNB(alpha=alpha)),
    ])


def cross_validate_alpha(
    pipeline: Pipeline, texts: list[str], labels: np.ndarray, params: BaselineParams, memory: InProcessMemory
) -> pd.DataFrame:
    """Mean CV AUC for every alpha of the grid; the vectorizer is refitted inside each fold."""
    search = GridSearchCV(
        clone(pipeline).set_params(memory=memory),
        {"nb__alpha": params.alpha_grid()},
        scoring="roc_auc",
        cv=StratifiedKFold(params.cv_folds, shuffle=True, random_state=params.cv_seed),
        refit=False,
    )
    search.fit(texts, labels)
    return pd.DataFrame({
        "alpha": search.cv_results_["param_nb__alpha"].astype(float),
        "cv_auc": search.cv_results_["mean_test_score"],
    })


def out_of_fold_probability(
    pipeline: Pipeline, texts: list[str], labels: np.ndarray, params: BaselineParams, memory: InProcessMemory
) -> np.ndarray:
    """Non-complaint probability of each training tweet from a copy fitted on the other CV folds (for stacking)."""
    folds = StratifiedKFold(params.cv_folds, shuffle=True, random_state=params.cv_seed)
    return cross_val_predict(clone(pipeline).set_params(memory=memory), texts, labels, cv=folds, method="predict_proba")[:, 1]


@dataclass(frozen=True)
class FittedBaseline:
    """The fitted Pipeline, CV AUC per alpha, the CV-best alpha, and out-of-fold probabilities of the training tweets."""

    pipeline: Pipeline
    cv_auc: pd.DataFrame
    best_alpha: float
    out_of_fold: np.ndarray


def fit_baseline(texts: list[str], labels: np.ndarray, stopwords: frozenset[str], params: BaselineParams) -> FittedBaseline:
    """Tune alpha by CV, then fit on all of `texts` with the pinned alpha or else the CV best."""
    # One store for the search and the out-of-fold pass: the same folds, so each fold's TF-IDF is fitted once.
    memory = InProcessMemory()
    pipeline = build_pipeline(stopwords, (params.ngram_min, params.ngram_max), params.alpha_min)
    cv_auc = cross_validate_alpha(pipeline, texts, labels, params, memory)
    best_alpha = float(cv_auc.loc[cv_auc["cv_auc"].idxmax(), "alpha"])
    pipeline.set_params(nb__alpha=best_alpha if params.alpha is None else params.alpha)
    out_of_fold = out_of_fold_probability(pipeline, texts, labels, params, memory)
    pipeline.fit(texts, labels)
    # sklearn memoizes id(stop_words), a memory address, on the fitted vectorizer: drop it so the pickle repeats.
    vars(pipeline.named_steps["tfidf"]).pop("_stop_words_id", None)
    return FittedBaseline(with_fixed_precision(pipeline), cv_auc, best_alpha, out_of_fold)


def with_fixed_precision(pipeline: Pipeline) -> Pipeline:
    """The fitted TF-IDF and NB arrays rounded to the files' significant digits, so the pickle is the same everywhere.

    Their last bits come from `log` and sums whose SIMD code differs between CPUs; the rounding moves a
    probability by about 1e-12.
    """
    tfidf, nb = pipeline.named_steps["tfidf"], pipeline.named_steps["nb"]
    tfidf.idf_ = fixed_precision_column(tfidf.idf_)
    for name in ("class_count_", "feature_count_", "class_log_prior_", "feature_log_prob_"):
        setattr(nb, name, fixed_precision_column(getattr(nb, name)))
    return pipeline


def load_baseline(path: Path) -> Pipeline:
    """The baseline stage's fitted Pipeline; a file that does not unpickle into one is a DataError naming it."""
    try:
        pipeline = joblib.load(path)
    except FileNotFoundError:
        raise
    except Exception as error:  # a truncated or foreign pickle raises anything from EOFError to UnpicklingError
        raise DataError(f"{path}: not a fitted baseline ({type(error).__name__}); rerun the baseline stage") from None
    if not isinstance(pipeline, Pipeline):
        raise DataError(f"{path}: holds a {type(pipeline).__name__}, expected the baseline's Pipeline")
    return pipeline
