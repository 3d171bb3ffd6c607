"""Airline complaint classification: a TF-IDF + Naive Bayes baseline and a fine-tuned BERT encoder."""
