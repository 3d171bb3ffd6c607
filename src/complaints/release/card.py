"""The release's model card: Hugging Face's README.md format (a YAML metadata block, then the sections), generated from
the pipeline's reports, never edited by hand."""
from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from importlib.metadata import version

import yaml

from complaints.text import cleaning

ARTIFACT = "complaint-classifier"
LARGE_ARTIFACT = "complaint-classifier-large"
HUB_IDS = {"embedded": "sentence-transformers/all-MiniLM-L6-v2"}
# The tutorial's bert-base-uncased on a GPU: its notebook's run.
PUBLISHED = {"auc": 0.9048, "accuracy": 0.8059}
TAGS = ("text-classification", "complaint-detection", "airline", "twitter", "onnx", "dvc")
DATASET = {"name": "Airline complaints (the tutorial's 3,400 labeled tweets)", "type": "airline-complaints",
           "split": "validation"}


@dataclass(frozen=True)
class CardInputs:
    """The stages' reports the card is written from (each as loaded JSON; `model`: the released recipe's validation
    report, `recipe` its name), the release's training record and its transformers config (its `encoder` holds the
    sizes)."""

    recipe: str
    model: dict
    tutorial: dict
    baseline: dict
    ensemble: dict
    seeds: dict
    compare: dict
    threshold: dict
    export: dict
    training: dict
    config: dict


def cleaning_rules() -> dict:
    """The predictor's cleaning: the function, its rules in words, and its version (a digest of the module's code)."""
    return {
        "function": "complaints.text.cleaning.clean_for_bert",
        "rules": ["@mentions removed (an @ up to the next whitespace)", "&amp; -> &",
                  "whitespace collapsed and stripped"],
        "sha256": hashlib.sha256(inspect.getsource(cleaning).encode()).hexdigest(),
    }


def release_record(name: str, engine: str, validation_auc: float) -> dict:
    """A release's release.json: its artifact name, the project version, the default engine, validation AUC and the
    cleaning rules."""
    return {"name": name, "project_version": version("complaints"), "engine": engine, "validation_auc": validation_auc,
            "cleaning": cleaning_rules()}


def base_model(training: dict) -> str:
    """The hub id (or folder) a model was fine-tuned from, as its training record names it."""
    name = training["model"]["name"]
    return HUB_IDS.get(name, name)


def model_index(name: str, validation: dict) -> list[dict]:
    """The card's model-index: validation AUC, accuracy and F1."""
    return [{
        "name": name,
        "results": [{
            "task": {"type": "text-classification", "name": "Complaint detection"},
            "dataset": dict(DATASET),
            "metrics": [
                {"type": "roc_auc", "value": round(validation["auc"], 4), "name": "Validation AUC"},
                {"type": "accuracy", "value": round(validation["accuracy"], 4), "name": "Validation accuracy"},
                {"type": "f1", "value": round(validation["f1"], 4), "name": "Validation F1 (non-complaint)"},
            ],
        }],
    }]


def card_metadata(name: str, base: str | list[str], validation: dict, library: str, tags: tuple[str, ...]) -> dict:
    """A card's YAML block: base model(s), language, licence, library, task, tags and the model-index of validation
    results."""
    return {
        "base_model": base,
        "language": "en",
        "license": "apache-2.0",
        "library_name": library,
        "pipeline_tag": "text-classification",
        "tags": list(tags),
        "metrics": ["roc_auc", "accuracy", "f1"],
        "model-index": model_index(name, validation),
    }


def metadata(inputs: CardInputs) -> dict:
    """The card's YAML block, for the released recipe's validation results."""
    return card_metadata(ARTIFACT, base_model(inputs.training), inputs.model, "transformers", TAGS)


def interval(compare: dict, pair: str) -> str:
    """An AUC difference with its bootstrap interval, as text."""
    return (f"{compare[f'{pair}_difference']:+.4f} (95% interval {compare[f'{pair}_ci_low']:+.4f} to "
            f"{compare[f'{pair}_ci_high']:+.4f})")


def distillation_text(training: dict) -> str:
    """How a distilled release learned from its teacher, as a sentence (empty when it was not distilled)."""
    if "distill" not in training:
        return ""
    distill = training["distill"]
    teacher = ("the average of the default recipe and a fine-tuned all-mpnet-base-v2" if distill["teacher"] == "bert_teacher"
               else "a fine-tuned all-mpnet-base-v2")
    unlabeled = f" and {distill['unlabeled_tweets']:,} unlabeled test" if distill["unlabeled"] else ""
    return (f" It is distilled from {teacher}: its loss mixes the KL divergence to that teacher's probabilities at "
            f"temperature {distill['temperature']} (weight {distill['alpha']}) with cross-entropy on the labels, on the "
            f"{distill['labeled_tweets']:,} labeled{unlabeled} tweets, so it keeps MiniLM's size and speed.")


def card(inputs: CardInputs) -> str:
    """The whole README.md of the release."""
    train, threshold, engines = inputs.training["train"], inputs.threshold, inputs.export["engines"]
    seeds = inputs.seeds
    base = base_model(inputs.training)
    encoder = inputs.config["encoder"]
    layers, hidden = encoder["num_hidden_layers"], encoder["hidden_size"]
    header = yaml.safe_dump(metadata(inputs), sort_keys=False, allow_unicode=True)
    prior = threshold["prior_estimate"]
    return f"""---
{header}---

# {ARTIFACT}: complaints in airline tweets

Labels an English tweet addressed to an airline as a `complaint` (0) or a `non-complaint` (1). It is the tutorial "Fine-tuning BERT
for Sentiment Analysis" made reproducible: `{base}` ({layers} layers, hidden {hidden}) fine-tuned with a
{train["pooling"]}-pooled two-layer head (`Linear({hidden}, {train["head_hidden"]})` -> ReLU -> `Linear({train["head_hidden"]}, 2)`),
trained by this project's DVC pipeline on all 3,400 labeled tweets.{distillation_text(inputs.training)} This folder is the release: `model.safetensors`
and `config.json` (transformers, with the model's code in `model.py`), the tokenizer (truncating at
{inputs.training["model"]["max_len"]} tokens), `model.onnx` (ONNX Runtime, fp32, fused) and `model_int8.onnx`
(int8),
`threshold.json` (the decision threshold) and `release.json` (the cleaning rules and their version).

## Intended use

Sorting incoming tweets to US airlines (2015 style) into complaints and the rest, for routing or for counting
complaints, with the threshold below. Input: the raw tweet; the cleaning (no @mentions, `&amp;` -> `&`,
collapsed whitespace) is part of the predictor.

## Out of scope

General sentiment (a polite question or a neutral statement is a non-complaint here, not "positive"); languages
other than English; other domains than airline customer service; tweets from other years without checking first
(the vocabulary of complaints drifts); decisions about a person. It is not a substitute for reading the tweet
when the decision matters.

## Training data and procedure

The tutorial's data: 1,700 complaints and 1,700 non-complaints (English tweets to US airlines, 2015), split as the
tutorial into 3,060 training and 340 validation tweets. The recipe was chosen on a dev split of 306 training
tweets, never on validation; this release is then refitted on all 3,400 tweets for the epoch count chosen.

| setting | value |
|---|---|
| base model | `{base}` |
| epochs (chosen on the dev split) | {inputs.training["chosen_epoch"]} |
| batch size, learning rate, AdamW eps, weight decay | {train["batch_size"]}, {train["lr"]}, {train["eps"]}, {train["weight_decay"]} |
| warm-up steps, gradient-norm clip | {train["warmup_steps"]}, {train["max_grad_norm"]} |
| pooling, head width, encoder frozen | {train["pooling"]}, {train["head_hidden"]}, {str(train["freeze_bert"]).lower()} |
| max tokens, seed | {inputs.training["model"]["max_len"]}, {train["seed"]} |

## Evaluation

On the tutorial's 340 validation tweets. The release itself trained on them, so its figures are those of the same
recipe trained without them (`models/{inputs.recipe}`); the spread over seeds of the default recipe says how much a
retrain moves them.

| model | validation AUC | validation accuracy |
|---|---:|---:|
| tutorial's published bert-base-uncased (GPU) | {PUBLISHED["auc"]:.4f} | {PUBLISHED["accuracy"]:.2%} |
| TF-IDF + Naive Bayes baseline | {inputs.baseline["auc"]:.4f} | {inputs.baseline["accuracy"]:.2%} |
| tutorial's recipe on `{base}` | {inputs.tutorial["auc"]:.4f} | {inputs.tutorial["accuracy"]:.2%} |
| **this recipe**, seed {train["seed"]} | **{inputs.model["auc"]:.4f}** | **{inputs.model["accuracy"]:.2%}** |
| the default recipe over {seeds["seeds"]} seeds: mean ± sd | {seeds["auc"]:.4f} ± {seeds["auc_std"]:.4f} | {seeds["accuracy"]:.2%} ± {100 * seeds["accuracy_std"]:.2f} |
| the default recipe averaged with the baseline (not released) | {inputs.ensemble["auc"]:.4f} | {inputs.ensemble["accuracy"]:.2%} |

Paired bootstrap of the AUC differences on the same tweets: this recipe - baseline
{interval(inputs.compare, f"{inputs.recipe}_vs_baseline")}; this recipe - tutorial's recipe
{interval(inputs.compare, f"{inputs.recipe}_vs_tutorial")}. F1 of non-complaint at 0.5: {inputs.model["f1"]:.4f}.
340 tweets give an AUC a standard error of about 0.02: differences smaller than that are not evidence.

## Threshold

A tweet is a `non-complaint` when its probability is above **{threshold["threshold"]:.4f}** (strategy
`{threshold["strategy"]}`). On validation that cut has precision {threshold["val_precision"]:.3f} and recall
{threshold["val_recall"]:.3f} for non-complaints; on the 4,553 unlabeled test tweets it calls {threshold["non_complaints"]}
({threshold["non_complaint_share"]:.1%}) non-complaints. The probabilities are calibrated for the training data's
50% share of non-complaints: on data with another share they shift (prior shift). For the test tweets an EM
estimate (Saerens et al. 2002) puts the share of non-complaints at {prior:.1%}, so a cut chosen on 50/50 data gives
lower precision there than on validation; re-estimate the share on your own tweets before trusting counts, or
choose the cut by the count you expect.

## Engines

`model.onnx` agrees with PyTorch to {inputs.export["onnx_max_difference"]:.1e} on every validation and test tweet and keeps
{engines["onnx"]["test_label_agreement"]:.2%} of the test labels. `model_int8.onnx` (dynamic int8, encoder layers
{", ".join(str(layer) for layer in inputs.export["int8_fp32_layers"])} left in fp32) moves this model's AUC on the validation tweets (which it
trained on) by {engines["onnx_int8"]["val_auc_change"]:+.4f} and keeps {engines["onnx_int8"]["test_label_agreement"]:.2%} of the test labels
({engines["onnx_int8"]["test_non_complaints_change"]:+d} non-complaints): it {"passes" if engines["onnx_int8"]["passes_gate"] else "does not pass"} the
project's gate (AUC within 0.002, 99.5% of labels kept). The engine this folder runs by default (`manifest.json`, the
fastest that passes): `{inputs.export["default_engine"]}`.

## Limitations and risks

- 3,400 training tweets from one period and one labelling: slang, new routes and events drift the vocabulary.
- Sarcasm and mixed tweets ("thanks for losing my bag") are the usual confident mistakes.
- A tweet empty after cleaning (only @mentions) is scored on `[CLS] [SEP]` alone: treat its label as unknown.
- Tweets longer than {inputs.training["model"]["max_len"]} tokens are truncated (about 1 in 1,000 here).
- The probabilities are not calibrated for other shares of complaints (see Threshold).

## How to use

With this project installed (`pip install -e .` in its repository):

```bash
complaints predict --model . "@united lost my bag again"
complaints predict --model . --input tweets.csv --text-column tweet --output scored.parquet
complaints serve --model . --port 8000      # POST /predict {{"texts": [...]}}, GET /health, GET /info, /docs
```

```python
from pathlib import Path
from complaints.serving.predictor import Predictor
from complaints.core.decision import label_words
from complaints.serving.modelfolder import folder_threshold

predictor = Predictor.load(Path("."), engine="{inputs.export["default_engine"]}")
probability = predictor.non_complaint_probability(["@united lost my bag again"])
label_words(probability, folder_threshold(Path(".")).value)
```

Without it, plain transformers loads the folder (its code is in `model.py`); clean the text as above first:

```python
from transformers import pipeline
pipeline("text-classification", model=".", trust_remote_code=True, top_k=None)("lost my bag again")
```
"""


@dataclass(frozen=True)
class LargeCardInputs:
    """What the large release's card is written from: the export_large report, the teacher chain's external report,
    the distilled student's validation report, and each member's training record and config (by member name)."""

    export: dict
    external: dict
    released: dict
    trainings: dict
    configs: dict


def large_metadata(inputs: LargeCardInputs) -> dict:
    """The large card's YAML block: both base models, and the ensemble's validation results through ONNX."""
    return card_metadata(LARGE_ARTIFACT, [base_model(training) for training in inputs.trainings.values()],
                         inputs.export["validation"], "onnx", (*TAGS, "ensemble"))


def member_row(name: str, inputs: LargeCardInputs) -> str:
    """One member of the ensemble as a table row: base model, size, weight, recipe, epochs."""
    encoder, training = inputs.configs[name]["encoder"], inputs.trainings[name]
    member = inputs.export["members"][name]
    return (f"| `{name}/` | `{base_model(training)}` | {encoder['num_hidden_layers']} x {encoder['hidden_size']} | "
            f"{member['weight']:.2f} | {training['train']['lr']} | {training['chosen_epoch']} | "
            f"{member['onnx_max_difference']:.1e} |")


def large_card(inputs: LargeCardInputs) -> str:
    """The whole README.md of the large release."""
    header = yaml.safe_dump(large_metadata(inputs), sort_keys=False, allow_unicode=True)
    validation, threshold, external = inputs.export["validation"], inputs.export["threshold"], inputs.external
    large, small = external["bert_teacher"], external["student_full"]
    compare = external["compare"]
    difference, low, high = (compare[f"bert_teacher_vs_student_full_{key}"] for key in ("difference", "ci_low", "ci_high"))
    max_len = next(iter(inputs.trainings.values()))["model"]["max_len"]
    rows = "\n".join(member_row(name, inputs) for name in inputs.export["members"])
    return f"""---
{header}---

# {LARGE_ARTIFACT}: complaints in airline tweets, two encoders averaged

Labels an English tweet addressed to an airline as a `complaint` (0) or a `non-complaint` (1), like
`{ARTIFACT}`, for users who value the last points of quality over speed: it averages the probabilities of two
fine-tuned encoders, which disagree more than two MiniLM models do and so correct each other. It is the ensemble that
teaches `{ARTIFACT}`'s distilled student, as this project's pipeline scored it (`bert_teacher`), exported for ONNX
Runtime. This folder: `ensemble.json` (the members and their weights), one model folder per member (transformers
weights and code in `model.py`, the tokenizer truncating at {max_len} tokens, `model.onnx` in fp32), `threshold.json`,
`release.json` (the cleaning rules and their version) and `manifest.json` (every file's digest).

| member | base model | layers x hidden | weight | learning rate | epochs (chosen on the dev split) | ONNX vs PyTorch, largest difference |
|---|---|---|---:|---:|---:|---:|
{rows}

Both members were fine-tuned with the project's two-layer head on the tutorial's 3,060 training tweets (306 of them
held out as the dev split that chose each epoch), never on validation: the figures below are the released models'
own. The teacher's weight was chosen on the external set by the project's rule.

## Evaluation

| model | validation AUC | validation accuracy | external AUC ± SE (7,235 tweets) |
|---|---:|---:|---:|
| **this ensemble** (ONNX) | **{validation["auc"]:.4f}** | **{validation["accuracy"]:.2%}** | **{large["auc"]:.4f} ± {large["auc_se"]:.4f}** |
| the distilled student (`student`) | {inputs.released["auc"]:.4f} | {inputs.released["accuracy"]:.2%} | {small["auc"]:.4f} ± {small["auc_se"]:.4f} |

The student's validation figures are its recipe trained without validation, its external figure its refit
(`student_full`), which `{ARTIFACT}` serves with `release.recipe: student`.
On the external set (February 2015, another labelling, never trained on) this ensemble scores {difference:+.4f}
(paired bootstrap, 95% interval {low:+.4f} to {high:+.4f}) against it. The external figures are the PyTorch members'
average; the ONNX graphs agree with PyTorch to the differences above. 340 validation tweets give an AUC a standard
error of about 0.02.

## Threshold

A tweet is a `non-complaint` when the averaged probability is above **{threshold["threshold"]:.4f}** (strategy
`{threshold["strategy"]}`, the pipeline's rule). On validation that cut has precision {threshold["val_precision"]:.3f}
and recall {threshold["val_recall"]:.3f} for non-complaints; it calls {threshold["non_complaints"]} of the
{threshold["tweets"]:,} unlabeled test tweets ({threshold["non_complaint_share"]:.1%}) non-complaints. As for
`{ARTIFACT}`, the probabilities are calibrated for the training data's 50% share of non-complaints.

## Speed

Slower than `{ARTIFACT}`: two encoders, one of them base-size, in fp32. `python -m benchmarks.large` measures both
releases side by side (tweets/s, one tweet's latency, peak memory) on the machine it runs on; the project's
docs/performance.md shows its last run. The large release is fp32 only: ONNX Runtime's optimizer does not fuse
MPNet's attention (its relative position bias), and int8 was not judged for it.

## Limitations and risks

Those of `{ARTIFACT}` (its card): 3,400 tweets from one period and one labelling, sarcasm, tweets empty after cleaning,
truncation at {max_len} tokens, probabilities calibrated for a 50% share. Its members did not train on the 340
validation tweets nor are they refitted on all 3,400, so they saw fewer tweets than `{ARTIFACT}`'s refit.

## How to use

With this project installed (`pip install -e .` in its repository):

```bash
complaints predict --model . "@united lost my bag again"
complaints serve --model . --port 8000      # POST /predict {{"texts": [...]}}, GET /health, GET /info
```

```python
from pathlib import Path
from complaints.serving.predictor import Predictor

predictor = Predictor.load(Path("."), engine="{inputs.export["engine"]}")
predictor.non_complaint_probability(["@united lost my bag again"])
```
"""
