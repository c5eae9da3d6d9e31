"""What spacy train calls: callbacks, the layer-wise optimizer, learning rates, precision, thresholds, spaCy's CLI."""
