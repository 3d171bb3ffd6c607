from complaints.baseline.tfidf import clean_for_bag_of_words, english_stopwords
from complaints.text.cleaning import clean_for_bert
from conftest import SHARED

TWEET_0 = (
    "@united I'm having issues. Yesterday I rebooked for 24 hours after I was supposed to fly, "
    "now I can't log on &amp; check in. Can you help?"
)


def test_stopwords_found_without_a_manual_step():
    stopwords = english_stopwords(SHARED / "nltk_data")
    assert {"the", "not", "can"} <= stopwords and len(stopwords) > 150


def test_bag_of_words_cleaning_of_tutorial_sentence_0():
    stopwords = english_stopwords(SHARED / "nltk_data")
    assert clean_for_bag_of_words(TWEET_0, stopwords) == (
        "issues yesterday rebooked 24 hours supposed fly can not log amp check can help ?"
    )


def test_bag_of_words_keeps_not_and_can_and_question_mark():
    stopwords = frozenset({"i", "not", "can", "the"})
    assert clean_for_bag_of_words("I can't find THE gate!?", stopwords) == "can not find gate ?"


def test_bert_cleaning_matches_tutorial_output():
    assert clean_for_bert(TWEET_0) == (
        "I'm having issues. Yesterday I rebooked for 24 hours after I was supposed to fly, "
        "now I can't log on & check in. Can you help?"
    )


def test_bert_cleaning_collapses_whitespace_and_keeps_trailing_mention():
    assert clean_for_bert("  hello\n\t@aa  world @bb") == "hello world @bb"
