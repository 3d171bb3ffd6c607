"""The tutorial's two text cleanings: bag-of-words for TF-IDF, and the light one for BERT."""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from pathlib import Path

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


def clean_for_bert(text: str) -> str:
    """The tutorial's BERT preprocessing: drop @mentions, `&amp;` -> `&`, collapse whitespace."""
    text = _MENTION.sub(" ", text)
    text = text.replace("&amp;", "&")
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
