"""The TF-IDF + Naive Bayes baseline."""
