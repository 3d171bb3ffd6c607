"""The fine-tuning closure: the classifier, the training loop, distillation, PyTorch scoring, logits to probabilities."""
