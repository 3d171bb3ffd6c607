"""The tutorial's light cleaning for BERT, applied to every tweet before the tokenizer: its digest is the release's
cleaning version."""
from __future__ import annotations

import re

_MENTION = re.compile(r"(@.*?)[\s]")
_SPACES = re.compile(r"\s+")


def clean_for_bert(text: str) -> str:
    """The tutorial's BERT preprocessing: drop @mentions, `&amp;` -> `&`, collapse whitespace."""
    text = _MENTION.sub(" ", text)
    text = text.replace("&amp;", "&")
    return _SPACES.sub(" ", text).strip()
