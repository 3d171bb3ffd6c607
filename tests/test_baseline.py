import numpy as np
import pytest

from sklearn.model_selection import StratifiedKFold, cross_val_predict

from complaints.baseline.tfidf import BaselineParams, build_pipeline, fit_baseline
from complaints.data.tweets import label_tweets, read_tweets, split_labeled
from complaints.core.metrics import classification_metrics
from complaints.baseline.tfidf import english_stopwords
from conftest import MIRROR, SHARED

TOY_TRAIN = [
    "my bag is lost", "flight delayed again", "worst service ever", "lost my luggage", "delayed for hours",
    "rude staff and delays", "thanks for the great flight", "lovely crew", "great service thanks",
    "best flight ever", "crew was lovely", "thanks great trip",
]
TOY_LABELS = np.array([0] * 6 + [1] * 6)
SMALL_GRID = BaselineParams(alpha_min=0.5, alpha_max=1.5, alpha_step=0.5, cv_folds=3)


@pytest.fixture(scope="module")
def stopwords():
    return english_stopwords(SHARED / "nltk_data")


def test_fits_toy_documents_and_separates_them(stopwords):
    fitted = fit_baseline(TOY_TRAIN, TOY_LABELS, stopwords, SMALL_GRID)
    pipeline, cv_auc, best_alpha = fitted.pipeline, fitted.cv_auc, fitted.best_alpha
    assert cv_auc["alpha"].tolist() == [0.5, 1.0, 1.5] and best_alpha in (0.5, 1.0, 1.5)
    probability = pipeline.predict_proba(["lost bag delayed", "lovely crew thanks"])[:, 1]
    assert probability[0] < 0.5 < probability[1]


def test_no_validation_word_enters_the_vocabulary(stopwords):
    pipeline = fit_baseline(TOY_TRAIN, TOY_LABELS, stopwords, SMALL_GRID).pipeline
    pipeline.predict_proba(["zeppelin turbulence"])
    vocabulary = pipeline.named_steps["tfidf"].vocabulary_
    assert "zeppelin" not in vocabulary and "turbulence" not in vocabulary and "lovely" in vocabulary


def test_out_of_fold_probabilities_match_an_uncached_cross_val_predict(stopwords):
    fitted = fit_baseline(TOY_TRAIN, TOY_LABELS, stopwords, SMALL_GRID)
    uncached = cross_val_predict(build_pipeline(stopwords, (1, 3), fitted.pipeline.get_params()["nb__alpha"]), TOY_TRAIN,
                                 TOY_LABELS, cv=StratifiedKFold(3, shuffle=True, random_state=1), method="predict_proba")[:, 1]
    np.testing.assert_allclose(fitted.out_of_fold, uncached)
    assert fitted.pipeline.get_params()["memory"] is None


@pytest.mark.parametrize("alpha, auc, accuracy", [(1.8, 0.8451, 0.7559), (1.3, 0.8432, 0.7529)])
def test_reproduces_the_tutorials_figures(stopwords, alpha, auc, accuracy):
    labeled = label_tweets(read_tweets(MIRROR / "complaint1700.csv"), read_tweets(MIRROR / "noncomplaint1700.csv"))
    train, val = split_labeled(labeled, 0.1, 2020)
    params = BaselineParams(alpha=alpha, alpha_min=1.0, alpha_max=1.0)
    pipeline = fit_baseline(train["text"].tolist(), train["label"].to_numpy(), stopwords, params).pipeline
    metrics = classification_metrics(val["label"].to_numpy(), pipeline.predict_proba(val["text"].tolist())[:, 1])
    assert round(metrics["auc"], 4) == auc
    assert round(metrics["accuracy"], 4) == accuracy
