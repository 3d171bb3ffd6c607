import dataclasses
import numpy as np
import torch
from accelerate import Accelerator
from transformers import BertConfig, BertModel

import pytest

from complaints.core.config import ParamsError
from conftest import ROOT
from complaints.core.decision import LABEL_WORDS
from complaints.modeling.torch_scoring import predict_logits
from complaints.modeling.model import (
    ComplaintClassifier, ComplaintConfig, load_classifier, pool, pretrained_classifier, save_classifier,
)
from complaints.core.runtime import configure_torch
from complaints.modeling.logits import non_complaint_probability
from complaints.text.tokens import Tokens, sorted_batches
from complaints.modeling.training import (
    LengthGroupedBatches, TrainParams, best_epoch, dev_row, fine_tune, hold_out_dev, parameter_groups, pseudo_labeled,
    torch_batch, train_classifier,
)


def tiny_tokens(count: int = 24, seed: int = 0) -> Tokens:
    """Random token rows of varied length whose label is decided by one token, so they can be learned."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 12, size=count)
    input_ids = np.zeros((count, 12), dtype=np.int32)
    attention_mask = np.zeros((count, 12), dtype=np.int8)
    labels = np.arange(count) % 2
    for row, length in enumerate(lengths):
        input_ids[row, :length] = rng.integers(5, 90, size=length)
        input_ids[row, 1] = 95 + labels[row]
        attention_mask[row, :length] = 1
    return Tokens(np.arange(count), input_ids, attention_mask, labels)


def tiny_classifier(seed: int = 0, pooling: str = "cls") -> ComplaintClassifier:
    configure_torch(seed)
    encoder = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=32)
    config = ComplaintConfig(encoder=encoder, head_hidden=16, pooling=pooling, max_length=12,
                             id2label={0: "complaint", 1: "non-complaint"})
    return ComplaintClassifier(config, encoder=BertModel(encoder))


PARAMS = TrainParams(epochs=1, batch_size=8, lr=1e-3, eval_batch_size=16)


def test_length_grouped_batches_cover_every_row_once_and_reshuffle_per_epoch():
    lengths = np.random.default_rng(1).integers(3, 60, size=203)
    sampler = LengthGroupedBatches(lengths, batch_size=16, seed=42, group=4)
    first = list(sampler)
    assert sorted(i for batch in first for i in batch) == list(range(203)) and len(first) == len(sampler) == 13
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert np.mean([np.ptp(lengths[b]) for b in first]) < np.ptp(lengths) / 2


def test_sorted_batches_and_dynamic_padding():
    tokens = tiny_tokens()
    batches = sorted_batches(tokens.lengths, 5)
    assert sorted(np.concatenate(batches).tolist()) == list(range(24))
    batch = tokens.batch(batches[-1])
    assert batch["input_ids"].shape[1] == tokens.lengths[batches[-1]].max() and batch["labels"].dtype == np.int64
    assert torch_batch(tokens, None, batches[-1])["input_ids"].dtype == torch.int64


def test_loss_drops_when_overfitting_one_batch():
    tokens = tiny_tokens(8)
    model = tiny_classifier()
    params = TrainParams(epochs=30, batch_size=8, lr=1e-3, eval_batch_size=8)
    history = fine_tune(model, tokens, tokens, params, Accelerator(cpu=True))
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert history[-1]["dev_accuracy"] == 1.0


def test_training_is_deterministic_on_cpu():
    runs = []
    for _ in range(2):
        model = tiny_classifier(seed=3)
        history = fine_tune(model, tiny_tokens(), tiny_tokens(seed=1), PARAMS, Accelerator(cpu=True))
        runs.append((history[0]["train_loss"], history[0]["dev_auc"], predict_logits(model, tiny_tokens(seed=2), 16, torch.device("cpu"))))
    assert runs[0][:2] == runs[1][:2]
    assert np.array_equal(runs[0][2], runs[1][2])


def test_prediction_order_does_not_depend_on_batching():
    model = tiny_classifier()
    tokens = tiny_tokens()
    by_four = predict_logits(model, tokens, 4, torch.device("cpu"))
    one_by_one = torch.cat([model(**{k: v for k, v in torch_batch(tokens, None, [i]).items() if k != "labels"}).logits
                            for i in range(24)])
    np.testing.assert_allclose(by_four, one_by_one.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_mean_pooling_ignores_padding_and_cls_takes_the_first_token():
    hidden = torch.arange(24, dtype=torch.float32).reshape(1, 4, 6)
    mask = torch.tensor([[1, 1, 0, 0]])
    torch.testing.assert_close(pool(hidden, mask, "mean"), hidden[:, :2].mean(dim=1))
    torch.testing.assert_close(pool(hidden, mask, "cls"), hidden[:, 0])


def test_hold_out_dev_is_stratified_disjoint_and_repeatable():
    tokens = tiny_tokens(40)
    train, dev = hold_out_dev(tokens, 0.25, seed=7)
    assert len(dev.ids) == 10 and dev.labels.sum() == 5
    assert set(train.ids).isdisjoint(dev.ids) and len(train.ids) + len(dev.ids) == 40
    assert np.array_equal(hold_out_dev(tokens, 0.25, seed=7)[1].ids, dev.ids)
    assert hold_out_dev(tokens, 0.0, seed=7) == (tokens, None)


def test_best_epoch_keeps_the_weights_of_the_best_dev_epoch():
    train, dev = hold_out_dev(tiny_tokens(48), 0.25, seed=0)
    model = tiny_classifier(pooling="mean")
    params = TrainParams(epochs=4, batch_size=8, lr=3e-3, eval_batch_size=16, dev_size=0.25, best_epoch=True)
    history = fine_tune(model, train, dev, params, Accelerator(cpu=True))
    kept = history[best_epoch(history) - 1]
    assert dev_row(model, dev, 16, torch.device("cpu")) == {key: kept[key] for key in ("dev_loss", "dev_accuracy", "dev_auc")}


def test_best_epoch_needs_a_dev_split():
    with pytest.raises(ParamsError, match=r"train\.best_epoch.*dev_size"):
        TrainParams(best_epoch=True, dev_size=0.0)


def test_saved_classifier_reloads_identically(tmp_path):
    from transformers import AutoModelForSequenceClassification, BertTokenizerFast

    model = tiny_classifier(pooling="mean")
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)]))
    save_classifier(model, BertTokenizerFast(vocab_file=str(vocabulary)), tmp_path / "model")
    reloaded = load_classifier(tmp_path / "model")
    tokens = tiny_tokens()
    cpu = torch.device("cpu")
    np.testing.assert_allclose(predict_logits(model, tokens, 8, cpu), predict_logits(reloaded, tokens, 8, cpu), rtol=1e-6)
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path / "model", trust_remote_code=True).config.max_length == 12


def test_a_fresh_classifier_keeps_the_encoders_attention_implementation():
    from complaints.text.pretrained import resolve_model

    model = pretrained_classifier(resolve_model("embedded"), 8, False, "mean", 16, label_words=LABEL_WORDS)
    # Without it BERT falls back to eager attention in training while inference uses SDPA.
    assert model.encoder.config._attn_implementation == model.config._attn_implementation == "sdpa"


def test_layer_decay_gives_each_depth_its_share_of_the_learning_rate():
    model = tiny_classifier()
    groups = parameter_groups(model, 1e-3, 0.5)
    # Two encoder layers: embeddings, layer 0, layer 1, then the head (and BERT's pooler) at the full rate.
    assert [group["lr"] for group in groups] == pytest.approx([1e-3 / 8, 1e-3 / 4, 1e-3 / 2, 1e-3])
    grouped = [id(parameter) for group in groups for parameter in group["params"]]
    assert sorted(grouped) == sorted(id(parameter) for parameter in model.parameters())
    embeddings = {id(parameter) for parameter in model.encoder.embeddings.parameters()}
    assert {id(parameter) for parameter in groups[0]["params"]} == embeddings
    assert len(parameter_groups(model, 1e-3, 1.0)) == 1


def test_layer_decay_moves_the_embeddings_less():
    def embedding_change(layer_decay: float) -> float:
        model = tiny_classifier(seed=5)
        before = model.encoder.embeddings.word_embeddings.weight.detach().clone()
        params = TrainParams(epochs=1, batch_size=8, lr=1e-3, eval_batch_size=16, layer_decay=layer_decay)
        fine_tune(model, tiny_tokens(), None, params, Accelerator(cpu=True))
        return (model.encoder.embeddings.word_embeddings.weight.detach() - before).abs().max().item()

    assert embedding_change(0.1) < 0.05 * embedding_change(1.0)


def test_layer_decay_and_pseudo_confidence_are_checked():
    with pytest.raises(ParamsError, match=r"train\.layer_decay"):
        TrainParams(layer_decay=0.0)
    with pytest.raises(ParamsError, match=r"train\.pseudo_confidence"):
        TrainParams(pseudo_confidence=0.3)


def test_pseudo_labels_are_the_models_confident_calls():
    model = tiny_classifier(seed=2)
    fine_tune(model, tiny_tokens(48), None, TrainParams(epochs=20, batch_size=8, lr=3e-3), Accelerator(cpu=True))
    unlabeled = tiny_tokens(30, seed=9)
    unlabeled = Tokens(unlabeled.ids + 100, unlabeled.input_ids, unlabeled.attention_mask, None)
    probability = non_complaint_probability(predict_logits(model, unlabeled, 16, torch.device("cpu")))
    picked = pseudo_labeled(model, unlabeled, 0.9, 16, torch.device("cpu"))
    confident = np.maximum(probability, 1 - probability) >= 0.9
    assert picked.ids.tolist() == unlabeled.ids[confident].tolist() and 0 < len(picked.ids) <= 30
    # The tokens decide the label (token 95 or 96 in position 1): a trained model's confident calls are right.
    assert np.array_equal(picked.labels, picked.input_ids[:, 1] - 95)


def test_self_training_trains_a_student_on_the_labeled_and_pseudo_labeled_tweets(tmp_path):
    configure_torch(0)
    BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=32)).save_pretrained(tmp_path / "encoder")
    unlabeled = tiny_tokens(20, seed=4)
    unlabeled = Tokens(unlabeled.ids + 100, unlabeled.input_ids, unlabeled.attention_mask, None)
    params = TrainParams(epochs=2, batch_size=8, lr=1e-3, eval_batch_size=16, dev_size=0.25, best_epoch=True,
                         self_training=True, pseudo_confidence=0.5)
    epochs = []
    trained = train_classifier(str(tmp_path / "encoder"), tiny_tokens(32), params, 12, Accelerator(cpu=True),
                               on_epoch=epochs.append, unlabeled=unlabeled)
    # At confidence 0.5 every unlabeled tweet gets a label; only the student's epochs are reported.
    assert trained.self_training["pseudo_labeled"] == trained.self_training["unlabeled"] == 20
    assert len(trained.self_training["teacher_history"]) == 2 and epochs == trained.history and len(epochs) == 2
    assert len(trained.dev.ids) == 8


def test_early_stopping_ends_once_the_dev_auc_stops_improving():
    tokens = tiny_tokens(32)
    # A zero rate leaves the dev AUC where it starts: no epoch after the first improves on it.
    params = TrainParams(epochs=6, batch_size=8, lr=1e-12, eval_batch_size=16, dev_size=0.25, best_epoch=True,
                         patience=2)
    train, dev = hold_out_dev(tokens, params.dev_size, params.dev_seed)
    history = fine_tune(tiny_classifier(), train, dev, params, Accelerator(cpu=True))
    assert len(history) == 3 and best_epoch(history) == 1


def test_averaging_the_last_epochs_ends_with_the_mean_of_their_weights():
    from complaints.modeling.training import cpu_state, mean_state

    tokens = tiny_tokens(32)
    saved = []
    params = dataclasses.replace(PARAMS, epochs=3, average_last_epochs=2)
    model = tiny_classifier()
    # Each epoch's weights, as the loop reports the epoch's row.
    fine_tune(model, tokens, None, params, Accelerator(cpu=True), on_epoch=lambda row: saved.append(cpu_state(model)))
    expected = mean_state(saved[-2:])
    assert all(torch.allclose(model.state_dict()[name], tensor) for name, tensor in expected.items())
    assert not torch.allclose(model.state_dict()["classifier.0.weight"], saved[-1]["classifier.0.weight"])


@pytest.mark.parametrize("encoder", ["tiny_encoder", "tiny_teacher"])
def test_reinit_draws_the_top_layers_of_a_pretrained_encoder_afresh_and_keeps_the_rest(encoder, request):
    from complaints.modeling.training import reinit_top_layers

    # Loaded as training loads it (BERT, and MPNet as the teacher): from_pretrained marks the weights initialised,
    # and transformers' init functions skip marked weights.
    configure_torch(0)
    model = pretrained_classifier(str(request.getfixturevalue(encoder)), 16, False, "cls", 12, label_words=LABEL_WORDS)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    reinit_top_layers(model, 1)
    after = model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(".layer.1." in name for name in changed)
    with pytest.raises(ParamsError, match="reinit_top_layers"):
        reinit_top_layers(model, 3)


def test_the_stability_options_are_checked():
    with pytest.raises(ParamsError, match="train.patience"):
        TrainParams(patience=2)
    with pytest.raises(ParamsError, match="train.average_last_epochs"):
        TrainParams(average_last_epochs=2, dev_size=0.1, best_epoch=True)


def test_a_shallower_encoder_keeps_the_chosen_pretrained_layers_and_reloads(tmp_path):
    from transformers import AutoTokenizer

    from complaints.text.pretrained import resolve_model
    from complaints.modeling.training import keep_encoder_layers

    model = tiny_classifier()
    top = {name: tensor.clone() for name, tensor in model.encoder.encoder.layer[1].state_dict().items()}
    keep_encoder_layers(model, (1,))
    assert len(model.encoder.encoder.layer) == 1 and model.config.encoder.num_hidden_layers == 1
    assert all(torch.equal(model.encoder.encoder.layer[0].state_dict()[name], tensor) for name, tensor in top.items())
    tokens = tiny_tokens(8)
    save_classifier(model, AutoTokenizer.from_pretrained(resolve_model("embedded")), tmp_path / "model")
    reloaded = load_classifier(tmp_path / "model")
    assert len(reloaded.encoder.encoder.layer) == 1
    assert np.array_equal(predict_logits(model.eval(), tokens, 8, torch.device("cpu")),
                          predict_logits(reloaded, tokens, 8, torch.device("cpu")))
    with pytest.raises(ParamsError, match="train.encoder_layers"):
        keep_encoder_layers(tiny_classifier(), (0, 2))


def test_the_shallower_recipe_is_the_default_on_three_layers_and_checks_its_indices():
    from complaints.core.config import load_section

    shallow, default = (load_section(ROOT / "params.yaml", section, TrainParams) for section in ("train_3_layers", "train"))
    assert shallow.encoder_layers == (1, 3, 5) and dataclasses.replace(shallow, encoder_layers=None) == default
    with pytest.raises(ParamsError, match="train.encoder_layers"):
        TrainParams(encoder_layers=(3, 1))
