"""What leaves the pipeline: the model card, the one-page report, sharing through a DVC remote."""
