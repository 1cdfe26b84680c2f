"""Inference for Sleeve: image loading, the ONNX embedder, descriptors, genre/popularity models,
the tagger and the committed artifacts. No chat, no network, no database."""
