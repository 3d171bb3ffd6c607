"""The model put to work: the model folder, ONNX export and engine, the one predictor, the CLI and the HTTP service."""
