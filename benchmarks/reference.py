"""The tutorial's own BERT code, kept faithful for timing: per-sentence encoding padded to MAX_LEN,
RandomSampler DataLoader, a training loop with a per-batch `loss.item()`, and `bert_predict`.

Only what current transformers removed is adapted: `encode_plus(..., pad_to_max_length=True)` becomes the
tokenizer call with `padding="max_length", truncation=True`, and `transformers.AdamW` becomes `torch.optim.AdamW`
with the same defaults (no weight decay).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, TensorDataset
from transformers import AutoModel, get_linear_schedule_with_warmup

from complaints.text.cleaning import clean_for_bert


def preprocessing_for_bert(tokenizer, data, max_len: int):
    """The tutorial's loop: one tokenizer call per sentence, padded to MAX_LEN."""
    input_ids, attention_masks = [], []
    for sent in data:
        encoded_sent = tokenizer(
            text=clean_for_bert(sent), add_special_tokens=True, max_length=max_len,
            padding="max_length", truncation=True, return_attention_mask=True,
        )
        input_ids.append(encoded_sent.get("input_ids"))
        attention_masks.append(encoded_sent.get("attention_mask"))
    return torch.tensor(input_ids), torch.tensor(attention_masks)


class BertClassifier(nn.Module):
    """The tutorial's classifier: [CLS] -> Linear(D_in, 50) -> ReLU -> Linear(50, 2)."""

    def __init__(self, location: str, freeze_bert: bool = False):
        super().__init__()
        self.bert = AutoModel.from_pretrained(location)
        D_in, H, D_out = self.bert.config.hidden_size, 50, 2
        self.classifier = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
        if freeze_bert:
            for param in self.bert.parameters():
                param.requires_grad = False

    def forward(self, input_ids, attention_mask):
        outputs = self.bert(input_ids=input_ids, attention_mask=attention_mask)
        last_hidden_state_cls = outputs[0][:, 0, :]
        return self.classifier(last_hidden_state_cls)


def initialize_model(location: str, lr: float, eps: float, total_steps: int):
    """The tutorial's `initialize_model`."""
    bert_classifier = BertClassifier(location, freeze_bert=False)
    optimizer = torch.optim.AdamW(bert_classifier.parameters(), lr=lr, eps=eps, weight_decay=0.0)
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=total_steps)
    return bert_classifier, optimizer, scheduler


def train_epoch(model, train_dataloader, optimizer, scheduler):
    """One epoch of the tutorial's `train` loop; returns the average loss."""
    loss_fn = nn.CrossEntropyLoss()
    total_loss = 0
    model.train()
    for step, batch in enumerate(train_dataloader):
        b_input_ids, b_attn_mask, b_labels = tuple(t for t in batch)
        model.zero_grad()
        logits = model(b_input_ids, b_attn_mask)
        loss = loss_fn(logits, b_labels)
        total_loss += loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    return total_loss / len(train_dataloader)


def bert_predict(model, test_dataloader):
    """The tutorial's `bert_predict`: softmax probabilities under `torch.no_grad`."""
    model.eval()
    all_logits = []
    for batch in test_dataloader:
        b_input_ids, b_attn_mask = tuple(t for t in batch)[:2]
        with torch.no_grad():
            logits = model(b_input_ids, b_attn_mask)
        all_logits.append(logits)
    all_logits = torch.cat(all_logits, dim=0)
    return F.softmax(all_logits, dim=1).cpu().numpy()


def train_loader(train_inputs, train_masks, train_labels, batch_size: int):
    """The tutorial's RandomSampler DataLoader (seeded by `set_seed` before it)."""
    train_data = TensorDataset(train_inputs, train_masks, torch.tensor(train_labels))
    return DataLoader(train_data, sampler=RandomSampler(train_data), batch_size=batch_size)


def predict_loader(inputs, masks, batch_size: int = 32):
    """The tutorial's SequentialSampler DataLoader."""
    data = TensorDataset(inputs, masks)
    return DataLoader(data, sampler=SequentialSampler(data), batch_size=batch_size)


def set_seed(seed_value: int = 42):
    """The tutorial's `set_seed`."""
    import random

    random.seed(seed_value)
    np.random.seed(seed_value)
    torch.manual_seed(seed_value)
