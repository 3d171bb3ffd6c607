import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from transformers import BertConfig, BertModel

from complaints.core.config import ParamsError
from complaints.modeling.distillation import UNLABELED, DistillParams, Teacher, as_unlabeled, distillation_loss, softened
from complaints.core.io import DataError, write_table
from complaints.core.runtime import configure_torch
from complaints.text.tokens import Tokens
from complaints.modeling.training import TrainParams, torch_batch, train_classifier

from test_training import tiny_tokens


def write_targets(path, ids, probability) -> None:
    write_table(pd.DataFrame({"id": ids, "split": "train", "bert": probability, "teacher": probability,
                              "bert_teacher": probability}), path)


def test_a_temperature_softens_the_teacher_toward_one_half_and_one_keeps_it():
    probability = torch.tensor([0.02, 0.5, 0.9])
    assert torch.allclose(softened(probability, 1.0)[:, 1], probability, atol=1e-6)
    hot = softened(probability, 4.0)
    assert torch.allclose(hot.sum(dim=1), torch.ones(3)) and hot[1, 1] == pytest.approx(0.5)
    assert (abs(hot[:, 1] - 0.5) < abs(probability - 0.5) + 1e-6).all() and 0.02 < hot[0, 1] < 0.5 < hot[2, 1] < 0.9


def test_alpha_zero_is_cross_entropy_and_one_is_the_scaled_kl_to_the_softened_teacher():
    logits = torch.tensor([[1.0, -1.0], [0.2, 0.4], [-2.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    teacher = torch.tensor([0.3, 0.6, 0.95])
    assert distillation_loss(logits, labels, teacher, 2.0, 0.0) == pytest.approx(F.cross_entropy(logits, labels).item())
    target = softened(teacher, 2.0)
    kl = (target * (target.log() - F.log_softmax(logits / 2.0, dim=1))).sum(dim=1).mean()
    assert distillation_loss(logits, labels, teacher, 2.0, 1.0) == pytest.approx(4.0 * kl.item(), rel=1e-5)
    # A student that matches the teacher has no KL left.
    matched = torch.logit(teacher)[:, None] * torch.tensor([0.0, 1.0])
    assert distillation_loss(matched, labels, teacher, 3.0, 1.0) == pytest.approx(0.0, abs=1e-6)


def test_unlabeled_rows_feed_the_kl_term_alone():
    logits = torch.tensor([[1.0, -1.0], [0.2, 0.4], [-2.0, 1.0]], requires_grad=True)
    teacher = torch.tensor([0.3, 0.6, 0.95])
    with_unlabeled = distillation_loss(logits, torch.tensor([0, UNLABELED, 1]), teacher, 2.0, 0.0)
    assert with_unlabeled.item() == pytest.approx(F.cross_entropy(logits[[0, 2]], torch.tensor([0, 1])).item())
    with_unlabeled.backward()
    assert torch.equal(logits.grad[1], torch.zeros(2))
    # A batch of unlabeled tweets only: no cross-entropy, no NaN.
    only = distillation_loss(logits.detach(), torch.full((3,), UNLABELED), teacher, 2.0, 0.5)
    assert torch.isfinite(only) and only == pytest.approx(
        0.5 * distillation_loss(logits.detach(), torch.zeros(3, dtype=torch.long), teacher, 2.0, 1.0).item())


@pytest.mark.parametrize("key, value", [("temperature", 0.0), ("alpha", 1.5)])
def test_distill_params_are_checked_naming_the_key(key, value):
    with pytest.raises(ParamsError, match=f"distill.{key}"):
        DistillParams(**{key: value})


def test_a_teacher_that_is_no_column_of_the_targets_file_is_rejected(tmp_path):
    write_targets(tmp_path / "targets.csv", [5], [0.1])
    with pytest.raises(DataError, match="teacher 'mpnet': expected one of bert_teacher, teacher"):
        Teacher.load(DistillParams(), "mpnet", tmp_path / "targets.csv")


def test_the_teacher_gives_each_tweet_its_probability_in_the_order_asked(tmp_path):
    write_targets(tmp_path / "targets.csv", [5, 7, 9], [0.1, 0.7, 0.4])
    teacher = Teacher.load(DistillParams(), "bert_teacher", tmp_path / "targets.csv")
    assert teacher.probability(np.array([9, 5])).tolist() == pytest.approx([0.4, 0.1])
    with pytest.raises(DataError, match=r"targets.csv: no teacher probability for tweet id 8 \(1 missing\)"):
        teacher.probability(np.array([5, 8]))


@pytest.mark.parametrize("ids, probability, message", [
    ([1, 1], [0.2, 0.3], "tweet id 1 appears twice"),
    ([1, 2], [0.2, 1.3], r"data row 2: column 'bert' = 1.3, expected a probability in \[0, 1\]"),
])
def test_bad_targets_files_are_rejected_naming_the_row(tmp_path, ids, probability, message):
    write_targets(tmp_path / "targets.csv", ids, probability)
    with pytest.raises(DataError, match=message):
        Teacher.load(DistillParams(), "bert_teacher", tmp_path / "targets.csv")


def test_batches_carry_the_teachers_probability_of_their_rows():
    tokens = tiny_tokens(6)
    batch = torch_batch(tokens, np.linspace(0, 1, 6, dtype=np.float32), [4, 1])
    assert batch["teacher_probability"].tolist() == pytest.approx([0.8, 0.2])


@pytest.mark.parametrize("encoder_layers", [None, (1,)])
def test_a_student_trains_on_the_labeled_and_unlabeled_tweets_with_the_teachers_probabilities(tmp_path, encoder_layers):
    configure_torch(0)
    BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=32)).save_pretrained(tmp_path / "encoder")
    labeled, unlabeled = tiny_tokens(32), tiny_tokens(20, seed=4)
    unlabeled = Tokens(unlabeled.ids + 100, unlabeled.input_ids, unlabeled.attention_mask, None)
    # The teacher knows the rule (token 95 or 96 in position 1), softly.
    ids = np.concatenate([labeled.ids, unlabeled.ids])
    write_targets(tmp_path / "targets.csv", ids,
                  np.concatenate([0.2 + 0.6 * (tokens.input_ids[:, 1] - 95) for tokens in (labeled, unlabeled)]))
    teacher = Teacher.load(DistillParams(temperature=2.0, alpha=0.5), "bert_teacher", tmp_path / "targets.csv")
    params = TrainParams(epochs=2, batch_size=8, lr=1e-3, eval_batch_size=16, dev_size=0.25, best_epoch=True,
                         encoder_layers=encoder_layers)
    trained = train_classifier(str(tmp_path / "encoder"), labeled, params, 12, Accelerator(cpu=True),
                               unlabeled=unlabeled, teacher=teacher)
    assert trained.distillation == {"labeled_tweets": 24, "unlabeled_tweets": 20}
    assert len(trained.dev.ids) == 8 and len(trained.history) == 2 and trained.history[-1]["dev_auc"] > 0.5
    assert as_unlabeled(unlabeled).labels.tolist() == [UNLABELED] * 20
    assert len(trained.model.encoder.encoder.layer) == len(encoder_layers or (0, 1))
