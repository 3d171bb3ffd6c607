"""How much choosing on the tweets that are reported inflates what is reported: the teacher's share of the average of
the default recipe and the teacher (the `teacher_share` stage's choice), chosen by external AUC as the pipeline does.

Each of SPLITS random halvings of the external set (seeded) chooses the share on one half and reports the other
half's AUC at it (honest), against the other half's AUC at the share chosen on that half itself (in-sample). The mean
of the difference is what choosing on the reported tweets adds.

Needs models/bert and models/teacher (`dvc repro distill/dvc.yaml:distill_targets`) and data/external.
Run:  python -m benchmarks.selection      # about 2 minutes on 2 cores (scoring the external tweets twice)
Writes benchmarks/results/selection.json; `python -m benchmarks.report` shows it in docs/quality.md.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmarks.compare import ROOT, run_header, save
from complaints.core.io import read_parquet
from complaints.serving.predictor import Predictor

SHARES = np.round(np.arange(0.0, 1.01, 0.1), 1)
SPLITS, SEED = 200, 0


def auc_at(labels: np.ndarray, bert: np.ndarray, teacher: np.ndarray, share: float) -> float:
    """The AUC of the average with the teacher's share `share`."""
    return float(roc_auc_score(labels, share * teacher + (1 - share) * bert))


def chosen_share(labels: np.ndarray, bert: np.ndarray, teacher: np.ndarray) -> float:
    """The share with the best AUC on these tweets (the smallest of ties)."""
    return float(SHARES[int(np.argmax([auc_at(labels, bert, teacher, share) for share in SHARES]))])


def main() -> None:
    """Score both models on the external tweets, then choose and report on halves."""
    tweets = read_parquet(ROOT / "data" / "external" / "tweets.parquet")
    labels = tweets["label"].to_numpy()
    bert, teacher = (Predictor.load(ROOT / "models" / name, 128).non_complaint_probability(tweets["text"].tolist())
                     for name in ("bert", "teacher"))
    rng = np.random.default_rng(SEED)
    honest, in_sample = [], []
    for _ in range(SPLITS):
        order = rng.permutation(len(labels))
        choose, report = order[: len(order) // 2], order[len(order) // 2:]
        share = chosen_share(labels[choose], bert[choose], teacher[choose])
        honest.append(auc_at(labels[report], bert[report], teacher[report], share))
        in_sample.append(auc_at(labels[report], bert[report], teacher[report],
                                chosen_share(labels[report], bert[report], teacher[report])))
    inflation = np.array(in_sample) - np.array(honest)
    result = run_header() | {
        "tweets": int(len(labels)), "splits": SPLITS, "shares": SHARES.tolist(),
        "chosen_on_all": chosen_share(labels, bert, teacher),
        "inflation_mean": float(inflation.mean()), "inflation_std": float(inflation.std(ddof=1)),
        "inflation_max": float(inflation.max()), "honest_auc_mean": float(np.mean(honest)),
        "in_sample_auc_mean": float(np.mean(in_sample))}
    print(result)
    save(result, "selection")


if __name__ == "__main__":
    main()
